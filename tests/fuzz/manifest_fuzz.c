/*
 * Fuzz the snapshot manifest reader: each input is written as
 * manifest.json of a directory and read with snapint_read_manifest (which
 * parses it with fcjson_manifest_parse). A manifest that is accepted must
 * survive a round trip: dumped and parsed again, it dumps to the same text.
 */
#include "snapint.h"
#include "fuzz.h"

static char dir[PATH_MAX], file[PATH_MAX];
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s", fz_tmpdir());
	snprintf(file, sizeof(file), "%s/manifest.json", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, m2;
	struct sk_err err = SK_ERR_INIT;
	char *text, *text2;
	int lowest_fd = fz_lowest_fd();

	memset(&m, 0, sizeof(m));
	fz_write_file(file, data, size);
	if (snapint_read_manifest(dir, &m, &err) < 0) {
		fz_verdict("refused: %s", err.msg);
		if (err.code != SK_EDAMAGED)
			fz_fail("manifest: refused with code %d, not SK_EDAMAGED: %s", err.code,
				err.msg);
		if (m.arts || m.vm_config)
			fz_fail("manifest: a refused manifest kept its allocations");
		fz_check_fds(lowest_fd, "manifest");
		return 0;
	}
	fz_verdict("accepted: %d artifacts", m.nart);
	if (m.nart < 2 || !m.arts)
		fz_fail("manifest: accepted with %d artifacts", m.nart);
	text = fcjson_manifest_dump(&m, &err);
	if (!text)
		fz_fail("manifest: an accepted manifest does not dump: %s", err.msg);
	if (fcjson_manifest_parse(text, &m2, &err) < 0)
		fz_fail("manifest: a dumped manifest does not parse again: %s\n%s", err.msg, text);
	text2 = fcjson_manifest_dump(&m2, &err);
	if (!text2 || strcmp(text, text2))
		fz_fail("manifest: a round trip changed the text:\n%s\n---\n%s", text,
			text2 ? text2 : "(null)");
	free(text2);
	free(text);
	fcjson_manifest_free(&m2);
	fcjson_manifest_free(&m);
	fz_check_fds(lowest_fd, "manifest");
	return 0;
}
