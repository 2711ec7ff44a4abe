/*
 * targuard: a strict, streaming check of tar framing, run over every byte
 * before libarchive sees it. libarchive is lenient where an importer must not
 * be (it resyncs past bad checksums, accepts a missing end-of-archive marker,
 * loops on some GNU headers); the guard rejects such archives outright.
 */
#ifndef SK_TARGUARD_H
#define SK_TARGUARD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct targuard_limits {
	size_t max_path; /* longest name or link target, in bytes */
	size_t max_pax;	 /* largest pax 'x'/'g' or GNU 'L'/'K' body */
};

struct targuard;

int targuard_new(struct targuard **out, const struct targuard_limits *lim, struct sk_err *err);
/*
 * Check the next len bytes of the tar stream. Returns 0 while the stream is
 * acceptable so far, -1 with SK_EDAMAGED and a message naming the problem and
 * its byte offset once it is not. Buffers may split headers anywhere.
 */
int targuard_feed(struct targuard *g, const void *buf, size_t len, struct sk_err *err);
/* At end of input: the end-of-archive marker was seen and only zeros follow. */
int targuard_finish(struct targuard *g, struct sk_err *err);
void targuard_free(struct targuard *g);

#endif
