/*
 * Fuzz the strict decoder. Each input is a compressed (or plain) stream
 * handed to dec_open through a memfd and decoded to the end (or to a cap on
 * the output, so a small bomb stays cheap). The decoder must end in a
 * verdict that sticks: after 0 it keeps returning 0, after -1 the same
 * error. Then the same input is decoded again from a socket that hands it
 * over in pieces of pseudo-random sizes (a pipe from a slow sender): the
 * verdict, its message and the amount of output must not change. Half the
 * plain inputs (by size) are also compressed, with gzip or zstd, and must
 * come back byte for byte.
 */
#include <sys/socket.h>

#include "codec.h"
#include "fuzz.h"

#define OUT_CAP (16u << 20)

/* Decode fd; append the output to copy (when not NULL, up to cap bytes). */
static int decode(int fd, uint8_t *copy, size_t cap, size_t *outlen, struct sk_err *err)
{
	struct dec *d = NULL;
	const void *buf;
	size_t len, total = 0;
	int ret;

	*outlen = 0;
	if (dec_open(&d, fd, err) < 0) {
		if (err->code != SK_EDAMAGED)
			fz_fail("codec: dec_open failed with code %d: %s", err->code, err->msg);
		return -1;
	}
	while ((ret = dec_next(d, &buf, &len, err)) == 1) {
		if (len == 0 || !buf)
			fz_fail("codec: dec_next returned 1 with no data");
		if (copy) {
			if (len > cap - total)
				fz_fail("codec: the round trip gave more bytes than went in");
			memcpy(copy + total, buf, len);
		}
		total += len;
		if (total > OUT_CAP)
			break;
	}
	if (ret == 0 || ret < 0) {
		struct sk_err again = SK_ERR_INIT;
		int ret2 = dec_next(d, &buf, &len, &again);

		if (ret2 != ret || len != 0 || (ret < 0 && strcmp(again.msg, err->msg)))
			fz_fail("codec: dec_next said %d ('%s'), then %d ('%s')", ret, err->msg,
				ret2, again.msg);
		if (ret < 0 && err->code != SK_EDAMAGED)
			fz_fail("codec: decoding failed with code %d: %s", err->code, err->msg);
	}
	dec_free(d);
	*outlen = total;
	return ret;
}

/*
 * Decode data as it arrives in pieces of pseudo-random sizes: each piece is
 * one message on a SOCK_SEQPACKET socket, so each read gets exactly one. The
 * pieces are all queued before decoding starts (no sender thread to switch
 * to); 1 when they do not fit in the socket's buffer, and the input is not
 * checked this way.
 */
static int decode_pieces(const uint8_t *data, size_t size, int *ret, size_t *outlen,
			 struct sk_err *err)
{
	uint32_t seed = (uint32_t)size * 2246822519u | 1;
	int sv[2], buf = 1 << 20, full = 0;
	size_t pos = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fz_die("socketpair");
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	while (pos < size) {
		size_t n = size - pos, want;

		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		want = seed % 4 == 0 ? 1 + seed % 5 : 1 + seed % 900;
		if (want < n)
			n = want;
		if (send(sv[1], data + pos, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n) {
			if (errno != EAGAIN && errno != ENOBUFS)
				fz_die("send");
			full = 1;
			break;
		}
		pos += n;
	}
	close(sv[1]);
	if (!full)
		*ret = decode(sv[0], NULL, 0, outlen, err);
	close(sv[0]);
	return full;
}

/* Compress data with codec c into a memfd, decode it, compare. */
static void round_trip(const uint8_t *data, size_t size, enum codec c, int level)
{
	struct sk_err err = SK_ERR_INIT;
	struct enc *e = NULL;
	uint8_t *back;
	size_t n;
	int fd = fz_memfd(NULL, 0);

	if (enc_open(&e, fd, c, level, 1, &err) < 0 || enc_write(e, data, size, &err) < 0 ||
	    enc_finish(e, &err) < 0)
		fz_fail("codec: encoding %zu bytes as %s failed: %s", size, codec_name(c), err.msg);
	enc_free(e);
	if (lseek(fd, 0, SEEK_SET) < 0)
		fz_die("lseek");
	back = malloc(size + 1);
	if (!back)
		fz_die("malloc");
	if (decode(fd, back, size, &n, &err) != 0)
		fz_fail("codec: a %s stream statekit wrote does not decode: %s", codec_name(c),
			err.msg);
	if (n != size || memcmp(back, data, size))
		fz_fail("codec: a %s round trip of %zu bytes gave %zu different bytes",
			codec_name(c), size, n);
	free(back);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_memfd(NULL, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_err err = SK_ERR_INIT;
	int lowest_fd = fz_lowest_fd();
	size_t n;
	int ret;

	ret = decode(fz_memfd(data, size), NULL, 0, &n, &err);
	fz_verdict("%d, %zu bytes out %s", ret, n, err.msg);
	if (size > 0) {
		struct sk_err err2 = SK_ERR_INIT;
		size_t n2 = 0;
		int ret2 = 0;

		if (decode_pieces(data, size, &ret2, &n2, &err2))
			ret2 = ret, n2 = n, snprintf(err2.msg, sizeof(err2.msg), "%s", err.msg);
		/*
		 * Past the output cap (1) the two may have stopped at different
		 * blocks. libzstd may name the damage differently when a frame
		 * arrives whole (it decodes it in one pass) than in pieces: "Data
		 * corruption detected" against "Destination buffer is too small"
		 * for a frame whose content size is wrong. Its words may differ;
		 * the verdict, the class and the output may not.
		 */
		if ((ret != 1 || ret2 != 1) &&
		    (ret2 != ret || n2 != n || err2.code != err.code ||
		     (strcmp(err2.msg, err.msg) &&
		      (strncmp(err.msg, "zstd: ", 6) || strncmp(err2.msg, "zstd: ", 6)))))
			fz_fail("codec: read whole: %d, %zu bytes, '%s'; read in pieces: %d, %zu "
				"bytes, '%s'",
				ret, n, err.msg, ret2, n2, err2.msg);
	}
	if (size == 0 && ret >= 0)
		fz_fail("codec: an empty input was accepted");
	/* Plain data that is not refused comes through unchanged. */
	if (ret == 0 && size > 0 && (size < 2 || data[0] != 0x1f || data[1] != 0x8b) &&
	    (size < 4 || (data[0] != 0x28 && (data[0] & 0xf0) != 0x50))) {
		if (n != size)
			fz_fail("codec: plain input of %zu bytes came out as %zu", size, n);
		/*
		 * An encoder costs milliseconds to set up (zstd's worker
		 * buffers): a quarter of the inputs each, chosen by size.
		 */
		if (size % 4 == 1)
			round_trip(data, size, CODEC_ZSTD, 1 + size % 5);
		else if (size % 4 == 0)
			round_trip(data, size, CODEC_GZIP, 1 + size % 9);
	}
	fz_check_fds(lowest_fd, "codec");
	return 0;
}
