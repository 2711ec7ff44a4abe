/*
 * Fuzz the tar framing guard. Each input is a plain tar stream, checked
 * three times: whole with ws-import's limits, in pieces of pseudo-random
 * sizes (which must give the same verdict and message: "buffers may split
 * headers anywhere"), and whole with tight limits.
 */
#include "targuard.h"
#include "fuzz.h"

struct verdict {
	int ret;
	struct sk_err err;
};

/* xorshift32: a split schedule that depends only on the input's size. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void check(const uint8_t *data, size_t size, const struct targuard_limits *lim, int split,
		  struct verdict *v)
{
	struct targuard *g = NULL;
	uint32_t seed = (uint32_t)size * 2654435761u | 1;
	size_t pos = 0;

	memset(v, 0, sizeof(*v));
	if (targuard_new(&g, lim, &v->err) < 0)
		fz_die("targuard_new");
	while (pos < size) {
		size_t n = size - pos;

		if (split) {
			uint32_t r = next_rand(&seed);
			size_t want = r % 4 == 0 ? 1 + r % 7 : 1 + r % 1100;

			if (want < n)
				n = want;
		}
		v->ret = targuard_feed(g, data + pos, n, &v->err);
		if (v->ret < 0)
			break;
		pos += n;
	}
	if (v->ret == 0)
		v->ret = targuard_finish(g, &v->err);
	targuard_free(g);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* ws-import's limits with the default [archive] max_path */
	const struct targuard_limits wide = { 4096 + 16, 1 << 20 };
	const struct targuard_limits tight = { 100, 1024 };
	struct verdict whole, pieces, small;

	check(data, size, &wide, 0, &whole);
	check(data, size, &wide, 1, &pieces);
	if (whole.ret != pieces.ret || whole.err.code != pieces.err.code ||
	    strcmp(whole.err.msg, pieces.err.msg))
		fz_fail("targuard: the verdict depends on how the stream is split: whole %d '%s', "
			"in pieces %d '%s'",
			whole.ret, whole.err.msg, pieces.ret, pieces.err.msg);
	if (whole.ret < 0 && whole.err.code != SK_EDAMAGED)
		fz_fail("targuard: rejected with code %d, not SK_EDAMAGED: %s", whole.err.code,
			whole.err.msg);
	check(data, size, &tight, 0, &small);
	fz_verdict("%d %s; tight limits: %d %s", whole.ret, whole.err.msg, small.ret,
		   small.err.msg);
	return 0;
}
