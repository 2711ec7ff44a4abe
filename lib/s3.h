/*
 * s3: a small client for S3-compatible object stores (AWS S3, Ceph RGW,
 * MinIO) over libcurl: SigV4 signing by libcurl itself, many transfers at
 * once through one multi handle, retries with backoff, a time limit on
 * every transfer, TLS verified. It knows buckets and objects; what the
 * objects mean is remote.c's business.
 */
#ifndef SK_S3_H
#define SK_S3_H

#include <limits.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/* s3://BUCKET/PREFIX, parsed. */
struct s3_remote {
	char bucket[64];
	char prefix[512]; /* "" or ending in '/' */
	char url[600];	  /* s3://BUCKET/PREFIX as given, for messages */
};
/*
 * Parse s3://BUCKET[/PREFIX]. Bucket names take S3's rules (3-63 of a-z 0-9
 * . -); the prefix takes A-Z a-z 0-9 and . _ - / (no "..", no "//"), so
 * that no key needs quoting. SK_EUSAGE naming what is wrong.
 */
int s3_parse_url(const char *url, struct s3_remote *r, struct sk_err *err);

/* Where the store is and who we are there. */
struct s3_conf {
	char endpoint[512]; /* scheme://host[:port], no path */
	char region[64];
	int virtual_host; /* [remote] addressing = virtual */
	int concurrency;  /* transfers at once */
	struct sk_creds creds;
	char ca_bundle[PATH_MAX]; /* AWS_CA_BUNDLE, "" for the system's */
};
/*
 * Fill sc from [remote] in cfg and the AWS_* environment: the endpoint from
 * [remote] endpoint, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else
 * AWS's own for the region; the region from [remote] region, else
 * AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1. With need_creds the
 * keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
 * AWS_SESSION_TOKEN), else from [remote] credentials_file (profile
 * AWS_PROFILE, else default); none at all is SK_EUSAGE.
 */
int s3_conf_load(struct s3_conf *sc, const struct sk_config *cfg, int need_creds,
		 struct sk_err *err);

/*
 * One request. The caller fills the first part (after s3_req_new), the
 * client the second; the rest is the client's own.
 */
struct s3_req {
	const char *method; /* "GET", "PUT", "HEAD", "DELETE" */
	char key[1024];	    /* under the store's prefix */
	int bucket_root;    /* key is from the bucket's root instead */
	char query[8192];   /* canonical: sorted, each value escaped (s3_escape) */
	char *url;	    /* a presigned URL (malloc'd): used as it is, not signed */
	const void *body;   /* a PUT body in memory, body_len bytes... */
	int body_fd;	    /* ...or body_len bytes of body_fd from body_off (fd not owned) */
	uint64_t body_off, body_len;
	int has_body;
	char md5[25];	      /* Content-MD5 of the body, "" for none */
	char meta_sha256[65]; /* sent as x-amz-meta-sha256, "" for none */
	uint64_t range_off;   /* a ranged GET when range_len > 0 */
	uint64_t range_len;
	size_t max_resp; /* the longest reply body taken */
	void *own;	 /* freed with the request (a body buffer) */
	void *user;	 /* the caller's */
	uint64_t tag;	 /* the caller's */

	long status; /* the HTTP status, 0 if there was none */
	char *resp;  /* the reply body, NUL-terminated, malloc'd */
	size_t resp_len;
	char etag[80];	     /* the ETag header, quotes and all */
	char got_sha256[65]; /* the reply's x-amz-meta-sha256 */
	int attempts;
	int curl_code; /* a transfer error, 0 if none */
	char curl_msg[256];
	int overflow; /* the reply was longer than max_resp */

	void *x_handle; /* the client's */
	void *x_headers;
	uint64_t x_pos;
	double x_due;
	struct s3_req *x_next;
};

struct s3_req *s3_req_new(const char *method);
/* Frees resp, own and url too; NULL is fine. */
void s3_req_free(struct s3_req *r);

struct s3;
/* A client for the store r in sc. Exit class 1 (libcurl). */
int s3_open(struct s3 **out, const struct s3_conf *sc, const struct s3_remote *r,
	    struct sk_err *err);
void s3_close(struct s3 *s);

/*
 * What s3_run drives: next hands it another request, or NULL when it has
 * none; idle says nothing is in flight, so NULL then ends the run (next may
 * block for one instead, if one is coming); done
 * gets each request once it has ended, after retries, whatever its status,
 * and must free it (s3_req_free) or keep it; tick is called about once a
 * second. done or tick returning -1 stops the run: requests still in flight
 * are dropped and freed, and the run returns -1 with their err.
 */
struct s3_ops {
	struct s3_req *(*next)(void *arg, int idle);
	int (*done)(void *arg, struct s3_req *r, struct sk_err *err);
	int (*tick)(void *arg, struct sk_err *err);
	void *arg;
};
/*
 * Run requests until next has no more and none is in flight, up to the
 * configured number at once. Retries a request whose transfer failed (no
 * connection, reset, timeout) or that got 5xx or 429, up to S3_ATTEMPTS
 * times with growing pauses. SK_EFAIL when interrupted.
 */
#define S3_ATTEMPTS 6
int s3_run(struct s3 *s, const struct s3_ops *ops, struct sk_err *err);
/* Make a running s3_run ask next again now; callable from any thread. */
void s3_wakeup(struct s3 *s);
/* One request, run to its end; -1 only when it could not be run at all. */
int s3_do(struct s3 *s, struct s3_req *r, struct sk_err *err);
/*
 * 0 if r ended with a 2xx status, else -1 with err saying why, what being
 * what was tried ("upload chunk 12ab..."): no bucket or refused keys
 * SK_EUSAGE; no such key SK_ENOENT; a reply too long SK_EDAMAGED; the store
 * unreachable or failing after the retries SK_EFAIL. Never names a secret
 * or a presigned URL's query.
 */
int s3_req_check(const struct s3 *s, const struct s3_req *r, const char *what, struct sk_err *err);

/*
 * Every object whose key starts with sub (under the prefix): cb gets its key
 * (under the prefix), size and time (unix seconds, the store's clock).
 */
typedef int (*s3_list_fn)(void *arg, const char *key, uint64_t size, int64_t mtime,
			  struct sk_err *err);
int s3_list(struct s3 *s, const char *sub, s3_list_fn cb, void *arg, struct sk_err *err);

/* Escape a query value as SigV4 wants: all but A-Z a-z 0-9 - _ . ~ as %XX. */
int s3_escape(const char *in, char *out, size_t size);
/* The store's name for messages: "s3://bucket/prefix". */
const char *s3_name(const struct s3 *s);
/* The value of <tag>...</tag> in xml (entities decoded) into out; 0 found, -1 not. */
int s3_xml_value(const char *xml, size_t len, const char *tag, char *out, size_t size);

#endif
