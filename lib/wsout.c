/*
 * wsout.c: the ws commands' output on stdout, tables and JSON, byte for byte
 * as the tests and scripts expect them. cmd/ calls it with the data the ws
 * operations returned.
 */
#include "wsout.h"

#include <stdio.h>
#include <time.h>

#include "codec.h"
#include "fcjson.h"
#include "log.h"
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

	printf("%-20s %5s  %-20s  %10s  %8s  %s\n", "BOT", "GEN", "CREATED", "SIZE", "ENTRIES",
	       "RESTORED");
	for (i = 0; i < n; i++) {
		char cr[32], rs[32], sz[32];

		fmt_time(v[i].created, cr, sizeof(cr));
		fmt_time(v[i].restored, rs, sizeof(rs));
		printf("%-20s %5lld  %-20s  %10s  %8llu  %s\n", v[i].bot,
		       (long long)v[i].generation, cr, log_bytes(v[i].size, sz, sizeof(sz)),
		       (unsigned long long)v[i].entries, rs);
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
