#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct hash {
	EVP_MD_CTX *ctx;
};

int hash_new(struct hash **out, struct sk_err *err)
{
	struct hash *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		hash_free(h);
		return sk_err_set(err, SK_EFAIL, "cannot start sha256");
	}
	*out = h;
	return 0;
}

void hash_update(struct hash *h, const void *buf, size_t len)
{
	EVP_DigestUpdate(h->ctx, buf, len);
}

void hash_final(struct hash *h, char hex[HASH_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	for (i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[HASH_HEX_LEN] = '\0';
	hash_free(h);
}

void hash_free(struct hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int hash_file(const char *path, char hex[HASH_HEX_LEN + 1], uint64_t *size,
	      struct sk_err *err)
{
	enum { BUFSZ = 1 << 20 };
	struct hash *h = NULL;
	char *buf = NULL;
	uint64_t total = 0;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sk_err_sys(err, errno == ENOENT ? SK_ENOENT : SK_EFAIL, errno,
				  "cannot open '%s'", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = malloc(BUFSZ);
	if (!buf) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	if (hash_new(&h, err) < 0)
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf, BUFSZ);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			sk_err_sys(err, SK_EFAIL, errno, "read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		hash_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	hash_final(h, hex);
	h = NULL;
	if (size)
		*size = total;
	ret = 0;
out:
	hash_free(h);
	free(buf);
	close(fd);
	return ret;
}
