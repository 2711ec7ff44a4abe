/*
 * Fuzz what fcsnap-push and fcsnap-pull read from others: the store's XML
 * replies (s3_xml_value, as the listing and the error paths use it), the
 * presigned PLAN and SPEC files (fcjson_presign_parse), and chunks as the
 * store hands them back (rstore_unpack_chunk). The first byte picks which.
 * A refusal must be the documented class and leave nothing allocated.
 */
#include "fcjson.h"
#include "hash.h"
#include "rstore.h"
#include "s3.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void xml(const char *text, size_t len)
{
	static const char *const tags[] = {
		"Key",	"Size",	  "LastModified", "IsTruncated", "NextContinuationToken",
		"Code", "Message"
	};
	char out[1200];
	size_t i, k;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (s3_xml_value(text, len, tags[i], out, sizeof(out)) < 0)
			continue;
		for (k = 0; out[k]; k++)
			if ((unsigned char)out[k] < 0x20)
				fz_fail("xml: a control byte in a value of <%s>", tags[i]);
	}
}

static void presign(const char *text, int pull)
{
	struct presign p;
	struct sk_err err = SK_ERR_INIT;
	int i, k;

	if (fcjson_presign_parse(text, pull, &p, &err) < 0) {
		if (err.code != SK_EUSAGE && err.code != SK_EFAIL)
			fz_fail("presign: refused with code %d: %s", err.code, err.msg);
		if (p.arts || p.manifest)
			fz_fail("presign: a refused file kept its allocations");
		return;
	}
	for (i = 0; i < p.nart; i++) {
		if (!fcjson_safe_name(p.arts[i].name))
			fz_fail("presign: accepted an unsafe name");
		if (pull && strncmp(p.arts[i].url, "http", 4))
			fz_fail("presign: accepted a URL that is not http(s)");
		for (k = 0; k < p.arts[i].nparts; k++)
			if (p.arts[i].parts[k].number != k + 1)
				fz_fail("presign: parts out of order");
	}
	fcjson_presign_free(&p);
}

static void chunk(const uint8_t *data, size_t size)
{
	static uint8_t out[1 << 16];
	struct sk_err err = SK_ERR_INIT;
	uint8_t d[HASH_LEN];
	size_t want;

	if (size < 2 + HASH_LEN)
		return;
	want = ((size_t)data[0] << 8 | data[1]) % sizeof(out);
	memcpy(d, data + 2, HASH_LEN);
	if (rstore_unpack_chunk(data + 2 + HASH_LEN, size - 2 - HASH_LEN, d, out, want, &err) < 0) {
		if (err.code != SK_EDAMAGED)
			fz_fail("chunk: refused with code %d, not SK_EDAMAGED: %s", err.code,
				err.msg);
		return;
	}
	fz_verdict("chunk accepted: %zu bytes", want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		fz_die("malloc");
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		xml(text, size - 1);
		break;
	case 1:
	case 2:
		presign(text, data[0] % 4 == 2);
		break;
	default:
		chunk(data + 1, size - 1);
	}
	free(text);
	return 0;
}
