/*
 * wsout.c: the ws commands' output on stdout, tables and JSON, byte for byte
 * as the tests and scripts expect them. cmd/ calls it with the data the ws
 * operations returned.
 */
#include "wsout.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "fcjson.h"
#include "log.h"
#include "retain.h"
#include "banned.h"

/* RFC 3339 UTC, or "-" for 0 (never). */
static void fmt_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void wsout_import_json(const struct ws_import_result *r)
{
	struct fcjson *o = fcjson_obj();

	fcjson_set_str(o, "bot", r->bot);
	fcjson_set_int(o, "entries", (int64_t)r->entries);
	fcjson_set_int(o, "bytes", (int64_t)r->bytes);
	fcjson_set_str(o, "codec", codec_name(r->codec));
	fcjson_print_line(stdout, o);
}

void wsout_restore_json(const struct ws_restore_result *r, const char *target)
{
	struct fcjson *o = fcjson_obj();

	fcjson_set_str(o, "bot", r->import.bot);
	fcjson_set_int(o, "generation", r->generation);
	fcjson_set_int(o, "entries", (int64_t)r->import.entries);
	fcjson_set_int(o, "bytes", (int64_t)r->import.bytes);
	fcjson_set_str(o, "codec", codec_name(r->import.codec));
	fcjson_set_str(o, "target", target);
	if (r->pre_restore)
		fcjson_set_int(o, "pre_restore_generation", r->pre_restore);
	else
		fcjson_set_str(o, "pre_restore_generation", NULL);
	fcjson_print_line(stdout, o);
}

void wsout_backup_json(const struct ws_backup *b)
{
	struct fcjson *o = fcjson_obj();

	fcjson_set_str(o, "bot", b->bot);
	fcjson_set_int(o, "generation", (int64_t)b->generation);
	fcjson_set_str(o, "file", b->file);
	fcjson_set_time(o, "created", b->created);
	fcjson_set_int(o, "size", (int64_t)b->size);
	fcjson_set_int(o, "entries", (int64_t)b->entries);
	fcjson_set_str(o, "codec", b->codec);
	fcjson_set_str(o, "sha256", b->sha256);
	fcjson_print_line(stdout, o);
}

void wsout_list_table(const struct ws_backup *v, size_t n)
{
	size_t i;

	printf("%-20s %5s  %-20s  %10s  %8s  %-25s  %-20s  %s\n", "BOT", "GEN", "CREATED", "SIZE",
	       "ENTRIES", "VERIFIED", "RESTORED", "TAG");
	for (i = 0; i < n; i++) {
		char cr[32], rs[32], sz[32], vt[32], vf[40];

		fmt_time(v[i].created, cr, sizeof(cr));
		fmt_time(v[i].restored, rs, sizeof(rs));
		fmt_time(v[i].verified, vt, sizeof(vt));
		/* When, and what it found: "ok 2026-..." or "DAMAGED 2026-..." */
		snprintf(vf, sizeof(vf), "%s%s",
			 !v[i].verified	  ? ""
			 : v[i].verify_ok ? "ok "
					  : "BAD ",
			 vt);
		printf("%-20s %5lld  %-20s  %10s  %8llu  %-25s  %-20s  %s\n", v[i].bot,
		       (long long)v[i].generation, cr, log_bytes(v[i].size, sz, sizeof(sz)),
		       (unsigned long long)v[i].entries, vf, rs, v[i].tag[0] ? v[i].tag : "-");
	}
}

void wsout_list_json(const struct ws_backup *v, size_t n)
{
	struct fcjson *a = fcjson_arr();
	size_t i;

	for (i = 0; i < n; i++) {
		struct fcjson *o = fcjson_obj();

		fcjson_set_str(o, "bot", v[i].bot);
		fcjson_set_int(o, "generation", (int64_t)v[i].generation);
		fcjson_set_str(o, "file", v[i].file);
		fcjson_set_time(o, "created", v[i].created);
		fcjson_set_int(o, "size", (int64_t)v[i].size);
		fcjson_set_int(o, "entries", (int64_t)v[i].entries);
		fcjson_set_str(o, "codec", v[i].codec);
		fcjson_set_str(o, "sha256", v[i].sha256);
		fcjson_set_time(o, "restored", v[i].restored);
		fcjson_set_time(o, "verified", v[i].verified);
		if (v[i].verified)
			fcjson_set_bool(o, "verified_ok", v[i].verify_ok);
		else
			fcjson_set_str(o, "verified_ok", NULL);
		fcjson_set_str(o, "tag", v[i].tag[0] ? v[i].tag : NULL);
		fcjson_append(a, o);
	}
	fcjson_print(stdout, a);
}

void wsout_ids(const struct ws_ids *ids)
{
	size_t i;

	for (i = 0; i < ids->n; i++)
		printf("%s\n", ids->v[i]);
}

void wsout_verify_begin(struct wsout_verify *v, int json)
{
	v->arr = json ? fcjson_arr() : NULL;
	v->told = 0;
}

void wsout_verified(void *arg, const struct ws_verified *r)
{
	struct wsout_verify *v = arg;

	v->told++;
	if (v->arr) {
		struct fcjson *j = fcjson_obj();

		fcjson_set_str(j, "bot", r->bot);
		fcjson_set_int(j, "generation", r->generation);
		fcjson_set_bool(j, "ok", r->err == NULL);
		fcjson_set_int(j, "entries", (int64_t)r->entries);
		fcjson_set_str(j, "error", r->err ? r->err->msg : NULL);
		fcjson_append(v->arr, j);
	} else if (!r->err && log_level() > LOG_QUIET) {
		printf("%s %lld: ok (%llu entries)\n", r->bot, (long long)r->generation,
		       (unsigned long long)r->entries);
	}
}

void wsout_verify_end(struct wsout_verify *v)
{
	if (v->arr && v->told)
		fcjson_print(stdout, v->arr);
	else
		fcjson_free(v->arr);
	v->arr = NULL;
}

void wsout_prune_begin(struct wsout_prune *p, int json, int dry_run)
{
	p->arr = json ? fcjson_arr() : NULL;
	p->table = !json && dry_run;
	p->told = 0;
}

void wsout_pruned(void *arg, const struct ws_pruned *v)
{
	struct wsout_prune *p = arg;
	char cr[32], why[160];

	retain_reasons(v->why, why, sizeof(why));
	if (p->arr) {
		struct fcjson *o = fcjson_obj(), *r = fcjson_arr();
		char *tok, *save = NULL;

		fcjson_set_str(o, "bot", v->bot);
		fcjson_set_int(o, "generation", v->generation);
		fcjson_set_time(o, "created", v->created);
		fcjson_set_str(o, "tag", v->tag[0] ? v->tag : NULL);
		fcjson_set_bool(o, "keep", v->why != 0);
		for (tok = strtok_r(why, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			fcjson_append(r, fcjson_str(tok + (*tok == ' ')));
		fcjson_set(o, "reasons", r);
		fcjson_append(p->arr, o);
	} else if (p->table) {
		if (!p->told)
			printf("%-20s %5s  %-20s  %-6s  %s\n", "BOT", "GEN", "CREATED", "ACTION",
			       "WHY");
		fmt_time(v->created, cr, sizeof(cr));
		printf("%-20s %5lld  %-20s  %-6s  %s\n", v->bot, (long long)v->generation, cr,
		       v->why ? "keep" : "remove", v->why ? why : "no keep rule keeps it");
	}
	p->told++;
}

void wsout_prune_end(struct wsout_prune *p)
{
	if (p->arr)
		fcjson_print(stdout, p->arr);
	p->arr = NULL;
}

void wsout_ls_begin(struct wsout_ls *l, int json)
{
	l->arr = json ? fcjson_arr() : NULL;
	l->told = 0;
}

static const char *type_name(char t)
{
	return t == 'd' ? "dir" : t == 'l' ? "symlink" : t == 'h' ? "hardlink" : "file";
}

void wsout_entry(void *arg, const struct ws_entry *e)
{
	struct wsout_ls *l = arg;
	char mt[32], mode[8], owner[32];

	snprintf(mode, sizeof(mode), "%04o", e->mode);
	if (l->arr) {
		struct fcjson *o = fcjson_obj();

		fcjson_set_str(o, "path", e->path);
		fcjson_set_str(o, "type", type_name(e->type));
		fcjson_set_str(o, "mode", mode);
		fcjson_set_int(o, "uid", e->uid);
		fcjson_set_int(o, "gid", e->gid);
		fcjson_set_int(o, "size", (int64_t)e->size);
		fcjson_set_time(o, "mtime", e->mtime);
		fcjson_set_str(o, "link", e->link);
		fcjson_append(l->arr, o);
	} else {
		if (!l->told)
			printf("%-4s %-4s %-11s %12s  %-20s  %s\n", "TYPE", "MODE", "OWNER", "SIZE",
			       "MTIME", "NAME");
		fmt_time(e->mtime, mt, sizeof(mt));
		snprintf(owner, sizeof(owner), "%u:%u", e->uid, e->gid);
		printf("%-4c %-4s %-11s %12llu  %-20s  %s%s%s\n", e->type, mode, owner,
		       (unsigned long long)e->size, mt, e->path,
		       e->type == 'l'	? " -> "
		       : e->type == 'h' ? " => "
					: "",
		       e->link ? e->link : "");
	}
	l->told++;
}

void wsout_ls_end(struct wsout_ls *l, int rc)
{
	if (l->arr && rc == 0)
		fcjson_print(stdout, l->arr);
	else
		fcjson_free(l->arr);
	l->arr = NULL;
}
