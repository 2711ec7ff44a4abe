/* fcjson_test: the ctr container parser and the --json builder's strings, times, milliseconds. */
#include "ctrd.h"
#include "fcjson.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static int ctr(const char *text, struct ctrd_container *c)
{
	struct sk_err err = { 0 };

	return fcjson_ctr_container(text, strlen(text), c, &err);
}

/* The one-line print of a builder object, malloc'd. */
static char *line(struct fcjson *o)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);

	if (!f || fcjson_print_line(f, o) < 0 || fclose(f) != 0) {
		perror("fcjson_test: memstream");
		exit(99);
	}
	return p;
}

static int prints(struct fcjson *o, const char *want)
{
	char *got = line(o);
	int same = strcmp(got, want) == 0;

	if (!same)
		printf("#   got  %s#   want %s", got, want);
	free(got);
	return same;
}

int main(void)
{
	struct ctrd_container c;
	struct fcjson *o;
	char big[400];

	ok(ctr("{\"ID\":\"b\",\"Labels\":{\"statekit.log-uri\":\"file:///l\","
	       "\"io.containerd.image.config.stop-signal\":\"SIGINT\",\"x\":\"y\"},"
	       "\"Snapshotter\":\"overlayfs\",\"SnapshotKey\":\"k\\u00e9\\ud83d\\ude00\","
	       "\"Spec\":{\"SnapshotKey\":\"evil\",\"n\":[1,2.5e3,true,null]}}",
	       &c) == 0 &&
	       !strcmp(c.snapshot_key, "k\xc3\xa9\xf0\x9f\x98\x80") &&
	       !strcmp(c.snapshotter, "overlayfs") && !strcmp(c.log_uri, "file:///l") &&
	       !strcmp(c.stop_signal, "SIGINT"),
	   "ctr: top-level keys and the two labels, escapes decoded, the spec ignored");
	ok(ctr("{\"Labels\":null,\"SnapshotKey\":\"k\"}", &c) == 0 &&
	       !strcmp(c.snapshot_key, "k") && !c.snapshotter[0] && !c.log_uri[0],
	   "ctr: null Labels, a missing key is empty");
	ok(ctr("{\"SnapshotKey\":\"a\\u0000b\"}", &c) < 0, "ctr: a NUL in a string is refused");
	ok(ctr("{\"SnapshotKey\":1}", &c) < 0, "ctr: a key that is not a string is refused");
	ok(ctr("{\"Labels\":{\"a\":1}}", &c) < 0, "ctr: a label that is not a string is refused");
	ok(ctr("{\"Labels\":[]}", &c) < 0, "ctr: Labels that are not an object are refused");
	ok(ctr("{\"SnapshotKey\":\"k\"} x", &c) < 0, "ctr: trailing text is refused");
	ok(ctr("{\"SnapshotKey\":\"k\",\"SnapshotKey\":\"j\"}", &c) < 0,
	   "ctr: a duplicate key is refused");
	ok(ctr("[]", &c) < 0 && ctr("", &c) < 0, "ctr: not an object is refused");
	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"Snapshotter\":\"", 16);
	strcpy(big + 16 + 64, "\"}");
	ok(ctr(big, &c) < 0, "ctr: a value one byte too long is refused, not cut");
	big[16 + 63] = '"';
	strcpy(big + 16 + 64, "}");
	ok(ctr(big, &c) == 0 && strlen(c.snapshotter) == 63, "ctr: a value that just fits is read");

	o = fcjson_obj();
	fcjson_set_str(o, "f",
		       "/a\xff"
		       "b\xc3\xa9\xc3"
		       "c\xed\xa0\x80\xf4\x90\x80\x80");
	ok(prints(o, "{\"f\":\"/a\xc3\xbf"
		     "b\xc3\xa9\xc3\x83"
		     "c\xc3\xad\xc2\xa0\xc2\x80"
		     "\xc3\xb4\xc2\x90\xc2\x80\xc2\x80\"}\n"),
	   "set_str: valid UTF-8 kept, every other byte the character of its value");
	o = fcjson_obj();
	fcjson_set_time(o, "created", 1764748800);
	fcjson_set_time(o, "restored", 0);
	ok(prints(o, "{\"created\":\"2025-12-03T08:00:00Z\",\"created_epoch\":1764748800,"
		     "\"restored\":null,\"restored_epoch\":null}\n"),
	   "set_time: RFC 3339 UTC and _epoch; never is null");
	o = fcjson_obj();
	fcjson_set_ms(o, "a", 40.5642660000467);
	fcjson_set_ms(o, "b", 1.0045);
	fcjson_set_ms(o, "c", 30.0565);
	fcjson_set_ms(o, "d", 0.0004);
	ok(prints(o, "{\"a\":40.564,\"b\":1.005,\"c\":30.057,\"d\":0.0}\n"),
	   "set_ms: rounded to 3 decimals and printed so");
	return tap_done();
}
