/*
 * codec: statekit's own compression layer around the plain tar stream.
 * Encoders write gzip (independent members compressed on every core) or zstd
 * (multi-threaded libzstd) to a file descriptor. The decoder detects the codec
 * from the magic bytes and checks every byte: gzip CRC32 and ISIZE of every
 * member, zstd frame checksums, no trailing garbage.
 */
#ifndef SK_CODEC_H
#define SK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };

/* -z, -l and -j as a command line gave them; each *_set says whether it did. */
struct codec_opts {
	int codec_set, level_set, threads_set;
	enum codec codec;
	int level, threads;
};

/* Parse "gzip", "zstd" or "none"; returns -1 for anything else. */
int codec_parse(const char *name, enum codec *out);
const char *codec_name(enum codec c);
/* The file suffix for a tar stream in this codec: ".tar.gz", ".tar.zst", ".tar". */
const char *codec_suffix(enum codec c);

struct enc;

/*
 * Open an encoder that writes to fd (not owned, never closed). level 0 means
 * the codec's default; threads 0 means one per online core. Fails with
 * SK_EUSAGE for a level the codec does not accept.
 */
int enc_open(struct enc **out, int fd, enum codec c, int level, int threads, struct sk_err *err);
/* Queue len bytes of plain data. A write error on fd (EPIPE, ENOSPC) is
 * reported by this call or a later one with SK_EFAIL. */
int enc_write(struct enc *e, const void *buf, size_t len, struct sk_err *err);
/* Flush everything and write the end of the stream. Does not fsync or close. */
int enc_finish(struct enc *e, struct sk_err *err);
/* Bytes written to fd so far. */
uint64_t enc_bytes_out(const struct enc *e);
/* Stop workers and free; safe on NULL and after a failure. */
void enc_free(struct enc *e);

struct dec;

/*
 * Open a decoder reading from fd (not owned). The codec is detected from the
 * first bytes: 1f 8b is gzip, 28 b5 2f fd is zstd, anything else is passed
 * through as plain data. bzip2, xz, lzip and compress(.Z) magic are refused
 * with SK_EDAMAGED naming the format. An empty input is SK_EDAMAGED.
 */
int dec_open(struct dec **out, int fd, struct sk_err *err);
/*
 * Return the next block of plain data in *buf and *len (valid until the next
 * call). Returns 1 with data, 0 at the verified end of the stream, -1 on
 * error: SK_EDAMAGED for a bad CRC, length, checksum, truncation, a zstd
 * frame without a checksum, or trailing garbage; SK_EFAIL for a read error.
 */
int dec_next(struct dec *d, const void **buf, size_t *len, struct sk_err *err);
enum codec dec_codec(const struct dec *d);
/* Compressed bytes consumed from fd so far. */
uint64_t dec_bytes_in(const struct dec *d);
/*
 * Ask a dec_next running in another thread to give up: its next read, or
 * the one a signal interrupts, fails with SK_EFAIL "read cancelled".
 */
void dec_cancel(struct dec *d);
void dec_free(struct dec *d);

/*
 * One buffer as one zstd frame with its content size and checksum (the
 * object store's chunks). zstd_blob_bound is the most it can take; level 0
 * is zstd's default. SK_EFAIL on a zstd error.
 */
size_t zstd_blob_bound(size_t len);
int zstd_blob_pack(const void *src, size_t len, void *dst, size_t cap, size_t *out_len, int level,
		   struct sk_err *err);
/*
 * Undo zstd_blob_pack into dst, which must come out exactly want bytes long:
 * one frame, nothing after it, its checksum right. Anything else (the input
 * is untrusted: a store may hand back any bytes) is SK_EDAMAGED.
 */
int zstd_blob_unpack(const void *src, size_t len, void *dst, size_t want, struct sk_err *err);

#endif
