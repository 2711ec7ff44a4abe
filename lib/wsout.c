/*
 * wsout.c: the ws commands' output on stdout, tables and JSON, byte for byte
 * as the tests and scripts expect them. cmd/ calls it with the data the ws
 * operations returned.
 */
#include "wsout.h"

#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "banned.h"

/* A JSON string literal for s (quotes included) in out; paths may hold any byte. */
static const char *json_str(const char *s, char *out, size_t size)
{
	size_t o = 0;

	out[o++] = '"';
	for (; *s && o + 8 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

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
	printf("{\"bot\":\"%s\",\"entries\":%llu,\"bytes\":%llu,\"codec\":\"%s\"}\n", r->bot,
	       (unsigned long long)r->entries, (unsigned long long)r->bytes,
	       codec_name(r->codec));
}

void wsout_backup_json(const struct ws_backup *b)
{
	char js[2 * PATH_MAX];

	printf("{\"bot\":\"%s\",\"generation\":%lld,\"file\":%s,\"size\":%llu,"
	       "\"sha256\":\"%s\",\"entries\":%llu}\n",
	       b->bot, (long long)b->generation, json_str(b->file, js, sizeof(js)),
	       (unsigned long long)b->size, b->sha256, (unsigned long long)b->entries);
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
	size_t i;

	printf("[");
	for (i = 0; i < n; i++) {
		char cr[32], rs[32], js[2 * PATH_MAX];

		fmt_time(v[i].created, cr, sizeof(cr));
		fmt_time(v[i].restored, rs, sizeof(rs));
		printf("%s\n  {\"bot\":\"%s\",\"generation\":%lld,\"created\":\"%s\","
		       "\"size\":%llu,\"entries\":%llu,\"codec\":\"%s\",\"sha256\":\"%s\","
		       "\"restored\":%s%s%s,\"file\":%s}",
		       i ? "," : "", v[i].bot, (long long)v[i].generation, cr,
		       (unsigned long long)v[i].size, (unsigned long long)v[i].entries,
		       v[i].codec, v[i].sha256, v[i].restored ? "\"" : "",
		       v[i].restored ? rs : "null", v[i].restored ? "\"" : "",
		       json_str(v[i].file, js, sizeof(js)));
	}
	printf("%s]\n", n ? "\n" : "");
}

void wsout_ids(const struct ws_ids *ids)
{
	size_t i;

	for (i = 0; i < ids->n; i++)
		printf("%s\n", ids->v[i]);
}
