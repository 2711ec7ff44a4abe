/*
 * rstore_test: what needs no store: s3:// URLs, SigV4 query escaping, the
 * XML values of the store's replies, when a lock object is stale, and the
 * zstd chunk format's checks.
 */
#include "codec.h"
#include "hash.h"
#include "rstore.h"
#include "s3.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_urls(void)
{
	struct s3_remote r;
	struct sk_err e = SK_ERR_INIT;

	ok(s3_parse_url("s3://snapshots/fleet/a", &r, &e) == 0 && !strcmp(r.bucket, "snapshots") &&
	       !strcmp(r.prefix, "fleet/a/") && !strcmp(r.url, "s3://snapshots/fleet/a"),
	   "s3://snapshots/fleet/a: bucket, prefix with a slash, name");
	ok(s3_parse_url("s3://snapshots", &r, &e) == 0 && !strcmp(r.prefix, "") &&
	       !strcmp(r.url, "s3://snapshots"),
	   "s3://snapshots: no prefix");
	ok(s3_parse_url("s3://snapshots/fleet//", &r, &e) == 0 && !strcmp(r.prefix, "fleet/"),
	   "trailing slashes go");
	ok(s3_parse_url("s3://ab/x", &r, &e) < 0 && e.code == SK_EUSAGE,
	   "a 2-letter bucket: exit 2");
	ok(s3_parse_url("s3://Snap/x", &r, &e) < 0, "an upper-case bucket is refused");
	ok(s3_parse_url("s3://snap/a//b", &r, &e) < 0, "a double slash is refused");
	ok(s3_parse_url("s3://snap/../b", &r, &e) < 0, "a '..' part is refused");
	ok(s3_parse_url("s3://snap/a b", &r, &e) < 0, "a space is refused");
	ok(s3_parse_url("https://snap/a", &r, &e) < 0, "another scheme is refused");
}

static void test_escape(void)
{
	char out[64];

	ok(s3_escape("fleet/chunks/ab-_.~", out, sizeof(out)) == 0 &&
	       !strcmp(out, "fleet%2Fchunks%2Fab-_.~"),
	   "escape: '/' is %%2F, unreserved stay");
	ok(s3_escape("a+b=c d", out, sizeof(out)) == 0 && !strcmp(out, "a%2Bb%3Dc%20d"),
	   "escape: + = and space");
	ok(s3_escape("xxxxxxxxxx", out, 8) < 0, "escape: too long is -1");
}

static void test_xml(void)
{
	const char *x = "<Error><Code>NoSuchKey</Code><Message>a &lt;b&gt; &amp; c\x01</Message>"
			"<Key>k</Key></Error>";
	char v[64];

	ok(s3_xml_value(x, strlen(x), "Code", v, sizeof(v)) == 0 && !strcmp(v, "NoSuchKey"),
	   "xml: a value");
	ok(s3_xml_value(x, strlen(x), "Message", v, sizeof(v)) == 0 && !strcmp(v, "a <b> & c?"),
	   "xml: entities decoded, control bytes shown as '?'");
	ok(s3_xml_value(x, strlen(x), "Size", v, sizeof(v)) < 0, "xml: a missing tag is -1");
	ok(s3_xml_value(x, 20, "Code", v, sizeof(v)) < 0,
	   "xml: a value cut by the length is not there");
	ok(s3_xml_value(NULL, 0, "Code", v, sizeof(v)) < 0, "xml: no reply");
}

static void test_locks(void)
{
	char key[200];
	pid_t dead = fork();

	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	ok(rstore_lock_stale("locks/shared.h1.1.ab", 1000, 1000 + RSTORE_LOCK_STALE + 1, "h1"),
	   "a lock not refreshed for %d s is stale", RSTORE_LOCK_STALE);
	ok(!rstore_lock_stale("locks/shared.h2.999999.ab", 1000, 1000 + 60, "h1"),
	   "a fresh lock of another host is not stale, whatever its pid");
	snprintf(key, sizeof(key), "locks/exclusive.h1.%d.ab", (int)dead);
	ok(rstore_lock_stale(key, 1000, 1060, "h1"),
	   "a fresh lock of this host with its process gone is stale");
	snprintf(key, sizeof(key), "p/locks/shared.h1.%d.ab", (int)getpid());
	ok(!rstore_lock_stale(key, 1000, 1060, "h1"), "a fresh lock of a live process here is not");
	ok(!rstore_lock_stale("locks/garbage", 1000, 1060, "h1"),
	   "a name of another shape is judged by age only");
}

static void test_chunks(void)
{
	static uint8_t raw[100000], packed[120000], out[100000];
	struct sk_err e = SK_ERR_INIT;
	struct hash *h = NULL;
	uint8_t d[HASH_LEN];
	size_t n = 0, i;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i % 251 < 100 ? i : 0);
	hash_new(&h, &e);
	hash_update(h, raw, sizeof(raw));
	hash_final_raw(h, d);
	ok(zstd_blob_pack(raw, sizeof(raw), packed, sizeof(packed), &n, 1, &e) == 0 &&
	       n < sizeof(raw),
	   "pack: one frame, smaller");
	ok(rstore_unpack_chunk(packed, n, d, out, sizeof(out), &e) == 0 &&
	       !memcmp(out, raw, sizeof(raw)),
	   "unpack: the same bytes back");
	ok(rstore_unpack_chunk(packed, n, d, out, sizeof(out) - 1, &e) < 0 && e.code == SK_EDAMAGED,
	   "unpack: another length is exit 5");
	ok(rstore_unpack_chunk(packed, n - 1, d, out, sizeof(out), &e) < 0 && e.code == SK_EDAMAGED,
	   "unpack: a frame cut short is exit 5");
	packed[n / 2] ^= 1;
	ok(rstore_unpack_chunk(packed, n, d, out, sizeof(out), &e) < 0 && e.code == SK_EDAMAGED,
	   "unpack: a flipped bit is exit 5");
	packed[n / 2] ^= 1;
	d[0] ^= 1;
	ok(rstore_unpack_chunk(packed, n, d, out, sizeof(out), &e) < 0 && e.code == SK_EDAMAGED &&
	       strstr(e.msg, "do not match its sha256"),
	   "unpack: bytes that are not the digest's are exit 5");
}

int main(void)
{
	test_urls();
	test_escape();
	test_xml();
	test_locks();
	test_chunks();
	return tap_done();
}
