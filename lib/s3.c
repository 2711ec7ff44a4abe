/*
 * s3.c: requests to an S3-compatible store through one libcurl multi handle.
 *
 * libcurl includes every header we add in the SigV4 signature, and signs
 * the query string exactly as written (curl 7.88), so queries are built in
 * canonical form here: parameters sorted, values escaped. The payload is
 * sent as UNSIGNED-PAYLOAD; its integrity rides on Content-MD5, which the
 * store checks. fcapi.c also includes curl.h, for Firecracker's Unix socket:
 * the two clients share nothing but the library.
 */
#include "s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"
#include "banned.h"

#define CONNECT_TIMEOUT_MS 10000L
#define STALL_SECONDS 30L /* a transfer that moves under 1 KiB/s for this long fails */
#define LIST_MAX (8u << 20)

struct s3 {
	struct s3_conf c;
	struct s3_remote r;
	CURLM *multi;
	char sigv4[96];
	char host[512]; /* scheme://host[:port] for messages */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_setup(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int bucket_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static int prefix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '/';
}

int s3_parse_url(const char *url, struct s3_remote *r, struct sk_err *err)
{
	const char *b, *slash;
	size_t blen, i, plen;

	memset(r, 0, sizeof(*r));
	if (strncmp(url, "s3://", 5) != 0)
		return sk_err_set(err, SK_EUSAGE, "remote '%.100s' is not s3://BUCKET/PREFIX", url);
	b = url + 5;
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	if (blen < 3 || blen > 63)
		return sk_err_set(err, SK_EUSAGE,
				  "remote '%.100s': a bucket name has 3 to 63 characters", url);
	for (i = 0; i < blen; i++)
		if (!bucket_char(b[i]))
			return sk_err_set(err, SK_EUSAGE,
					  "remote '%.100s': a bucket name takes a-z 0-9 . and - "
					  "only",
					  url);
	memcpy(r->bucket, b, blen);
	if (slash) {
		const char *p = slash + 1;

		plen = strlen(p);
		while (plen && p[plen - 1] == '/')
			plen--;
		if (plen + 2 > sizeof(r->prefix))
			return sk_err_set(err, SK_EUSAGE, "remote '%.100s': the prefix is too long",
					  url);
		for (i = 0; i < plen; i++)
			if (!prefix_char(p[i]) || (p[i] == '/' && (i == 0 || p[i - 1] == '/')))
				return sk_err_set(err, SK_EUSAGE,
						  "remote '%.100s': a prefix takes A-Z a-z 0-9 . _ "
						  "- "
						  "and single slashes only",
						  url);
		memcpy(r->prefix, p, plen);
		if (plen)
			r->prefix[plen] = '/';
		if (strstr(r->prefix, "../") == r->prefix || strstr(r->prefix, "/../") ||
		    strstr(r->prefix, "./") == r->prefix || strstr(r->prefix, "/./"))
			return sk_err_set(err, SK_EUSAGE,
					  "remote '%.100s': the prefix has a '.' or '..' part",
					  url);
	}
	snprintf(r->url, sizeof(r->url), "s3://%s/%s", r->bucket, r->prefix);
	if (r->url[strlen(r->url) - 1] == '/')
		r->url[strlen(r->url) - 1] = '\0';
	return 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int copy_set(char *dst, size_t size, const char *src, const char *what, struct sk_err *err)
{
	if (strlen(src) >= size)
		return sk_err_set(err, SK_EUSAGE, "%s is too long", what);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static unsigned online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

int s3_conf_load(struct s3_conf *sc, const struct sk_config *cfg, int need_creds,
		 struct sk_err *err)
{
	const char *v;

	memset(sc, 0, sizeof(*sc));
	v = cfg->rm_region[0] ? cfg->rm_region : env("AWS_REGION");
	if (!v)
		v = env("AWS_DEFAULT_REGION");
	if (copy_set(sc->region, sizeof(sc->region), v ? v : "us-east-1", "the region", err) < 0)
		return -1;
	v = cfg->rm_endpoint[0] ? cfg->rm_endpoint : env("AWS_ENDPOINT_URL_S3");
	if (!v)
		v = env("AWS_ENDPOINT_URL");
	if (v) {
		if (copy_set(sc->endpoint, sizeof(sc->endpoint), v, "the endpoint", err) < 0)
			return -1;
	} else {
		snprintf(sc->endpoint, sizeof(sc->endpoint), "https://s3.%s.amazonaws.com",
			 sc->region);
	}
	while (sc->endpoint[0] && sc->endpoint[strlen(sc->endpoint) - 1] == '/')
		sc->endpoint[strlen(sc->endpoint) - 1] = '\0';
	if (strncmp(sc->endpoint, "http://", 7) && strncmp(sc->endpoint, "https://", 8))
		return sk_err_set(err, SK_EUSAGE,
				  "endpoint '%.200s' is not an http:// or https:// URL",
				  sc->endpoint);
	if (strchr(strchr(sc->endpoint, ':') + 3, '/') || strchr(sc->endpoint, '?') ||
	    strchr(sc->endpoint, '@'))
		return sk_err_set(err, SK_EUSAGE,
				  "endpoint '%.200s' must be scheme://host[:port], nothing more",
				  sc->endpoint);
	sc->virtual_host = !strcmp(cfg->rm_addressing, "virtual");
	sc->concurrency = cfg->rm_concurrency ? cfg->rm_concurrency : (int)(8 * online_cores());
	if ((v = env("AWS_CA_BUNDLE")) &&
	    copy_set(sc->ca_bundle, sizeof(sc->ca_bundle), v, "AWS_CA_BUNDLE", err) < 0)
		return -1;
	if (!need_creds)
		return 0;
	if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
		if (copy_set(sc->creds.access, sizeof(sc->creds.access), env("AWS_ACCESS_KEY_ID"),
			     "AWS_ACCESS_KEY_ID", err) < 0 ||
		    copy_set(sc->creds.secret, sizeof(sc->creds.secret),
			     env("AWS_SECRET_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY", err) < 0)
			return -1;
		if ((v = env("AWS_SESSION_TOKEN")) &&
		    copy_set(sc->creds.token, sizeof(sc->creds.token), v, "AWS_SESSION_TOKEN",
			     err) < 0)
			return -1;
		return 0;
	}
	if (cfg->rm_credentials[0])
		return config_load_creds(cfg->rm_credentials,
					 env("AWS_PROFILE") ? env("AWS_PROFILE") : "default",
					 &sc->creds, err);
	return sk_err_set(err, SK_EUSAGE,
			  "no credentials for the object store: set AWS_ACCESS_KEY_ID and "
			  "AWS_SECRET_ACCESS_KEY, or [remote] credentials_file");
}

struct s3_req *s3_req_new(const char *method)
{
	struct s3_req *r = calloc(1, sizeof(*r));

	if (r) {
		r->method = method;
		r->body_fd = -1;
		r->max_resp = 1u << 20;
	}
	return r;
}

static void xfer_drop(struct s3_req *r)
{
	curl_easy_cleanup(r->x_handle);
	curl_slist_free_all(r->x_headers);
	r->x_handle = NULL;
	r->x_headers = NULL;
}

void s3_req_free(struct s3_req *r)
{
	if (!r)
		return;
	xfer_drop(r);
	free(r->resp);
	free(r->own);
	free(r->url);
	free(r);
}

int s3_open(struct s3 **out, const struct s3_conf *sc, const struct s3_remote *r,
	    struct sk_err *err)
{
	struct s3 *s;
	const char *host;

	*out = NULL;
	pthread_once(&curl_once, curl_setup);
	if (!curl_ok)
		return sk_err_set(err, SK_EFAIL, "cannot initialise libcurl");
	s = calloc(1, sizeof(*s));
	if (!s)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	s->c = *sc;
	s->r = *r;
	s->multi = curl_multi_init();
	if (!s->multi) {
		free(s);
		return sk_err_set(err, SK_EFAIL, "cannot create a curl handle");
	}
	curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)sc->concurrency);
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", sc->region);
	host = strstr(sc->endpoint, "://") + 3;
	snprintf(s->host, sizeof(s->host), "%s", host);
	*out = s;
	return 0;
}

void s3_close(struct s3 *s)
{
	if (!s)
		return;
	curl_multi_cleanup(s->multi);
	explicit_bzero(&s->c.creds, sizeof(s->c.creds));
	free(s);
}

const char *s3_name(const struct s3 *s)
{
	return s->r.url;
}

int s3_escape(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';

		if (o + (keep ? 1 : 3) >= size)
			return -1;
		if (keep) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/* ---- one transfer ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb;
	char *p;

	if (r->resp_len + n > r->max_resp) {
		r->overflow = 1;
		return 0;
	}
	p = realloc(r->resp, r->resp_len + n + 1);
	if (!p)
		return 0;
	memcpy(p + r->resp_len, data, n);
	r->resp = p;
	r->resp_len += n;
	r->resp[r->resp_len] = '\0';
	return n;
}

/* Copy a header's value (trimmed, cut to size) when line is "name: value". */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name), i;

	if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	for (i = 0; i < len && i + 1 < size; i++)
		out[i] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
	out[i] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb;

	header_value(data, n, "ETag", r->etag, sizeof(r->etag));
	header_value(data, n, "x-amz-meta-sha256", r->got_sha256, sizeof(r->got_sha256));
	return n;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t want = size * nmemb;
	uint64_t left = r->body_len - r->x_pos;

	if (want > left)
		want = (size_t)left;
	if (!want)
		return 0;
	if (r->body) {
		memcpy(dst, (const char *)r->body + r->x_pos, want);
	} else {
		ssize_t got = pread(r->body_fd, dst, want, (off_t)(r->body_off + r->x_pos));

		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	r->x_pos += want;
	return want;
}

static int add_header(struct s3_req *r, const char *name, const char *val)
{
	char line[4200];
	struct curl_slist *l;

	/* "Name:" alone tells libcurl to send no such header. */
	snprintf(line, sizeof(line), "%s:%s%s", name, *val ? " " : "", val);
	l = curl_slist_append(r->x_headers, line);
	if (!l)
		return -1;
	r->x_headers = l;
	return 0;
}

static int build_url(const struct s3 *s, const struct s3_req *r, char *url, size_t size)
{
	const char *scheme_end = strstr(s->c.endpoint, "://") + 3;
	const char *pre = r->bucket_root ? "" : s->r.prefix;
	int n;

	if (s->c.virtual_host)
		n = snprintf(url, size, "%.*s%s.%s/%s%s%s%s", (int)(scheme_end - s->c.endpoint),
			     s->c.endpoint, s->r.bucket, scheme_end, pre, r->key,
			     r->query[0] ? "?" : "", r->query);
	else
		n = snprintf(url, size, "%s/%s/%s%s%s%s", s->c.endpoint, s->r.bucket, pre, r->key,
			     r->query[0] ? "?" : "", r->query);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A fresh easy handle for the next attempt of r. */
static int xfer_start(struct s3 *s, struct s3_req *r)
{
	char url[4096], range[64];
	CURL *h;

	xfer_drop(r);
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	r->overflow = 0;
	r->status = 0;
	r->curl_code = 0;
	r->etag[0] = r->got_sha256[0] = '\0';
	r->x_pos = 0;
	r->attempts++;
	h = r->x_handle = curl_easy_init();
	if (!h)
		return -1;
	if (!r->url && build_url(s, r, url, sizeof(url)) < 0)
		return -1;
	curl_easy_setopt(h, CURLOPT_URL, r->url ? r->url : url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_msg);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (s->c.ca_bundle[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, s->c.ca_bundle);
	r->curl_msg[0] = '\0';
	if (!r->url) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, s->c.creds.access);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->c.creds.secret);
		if (add_header(r, "x-amz-content-sha256", "UNSIGNED-PAYLOAD") < 0 ||
		    (s->c.creds.token[0] &&
		     add_header(r, "x-amz-security-token", s->c.creds.token) < 0) ||
		    (r->meta_sha256[0] && add_header(r, "x-amz-meta-sha256", r->meta_sha256) < 0))
			return -1;
	}
	if (r->md5[0] && add_header(r, "Content-MD5", r->md5) < 0)
		return -1;
	if (r->range_len) {
		snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)r->range_off,
			 (unsigned long long)(r->range_off + r->range_len - 1));
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	if (!strcmp(r->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
	} else if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->x_headers);
	return curl_multi_add_handle(s->multi, h) == CURLM_OK ? 0 : -1;
}

static int retryable(const struct s3_req *r)
{
	switch (r->curl_code) {
	case CURLE_OK:
		return r->status >= 500 || r->status == 429;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* The pause before attempt n+1: 0.25 s doubling, up to 8 s, with jitter. */
static double backoff(int n)
{
	double d = 0.25 * (double)(1u << (n > 5 ? 5 : n - 1));

	if (d > 8)
		d = 8;
	return d * (0.5 + (double)(rand() % 1000) / 2000.0);
}

struct run {
	struct s3 *s;
	const struct s3_ops *ops;
	int active;		/* in the multi handle */
	struct s3_req *waiting; /* retries not yet due */
	struct s3_req **live;	/* what is in flight, to drop on a stop */
	size_t nlive, cap;
};

static int live_add(struct run *u, struct s3_req *r)
{
	if (u->nlive == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		struct s3_req **p = realloc(u->live, cap * sizeof(*p));

		if (!p)
			return -1;
		u->live = p;
		u->cap = cap;
	}
	u->live[u->nlive++] = r;
	return 0;
}

static void live_del(struct run *u, struct s3_req *r)
{
	size_t i;

	for (i = 0; i < u->nlive; i++)
		if (u->live[i] == r) {
			u->live[i] = u->live[--u->nlive];
			return;
		}
}

static int start(struct run *u, struct s3_req *r, struct sk_err *err)
{
	if (live_add(u, r) < 0) {
		s3_req_free(r);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	if (xfer_start(u->s, r) < 0)
		return sk_err_set(err, SK_EFAIL, "cannot start a transfer to %s", u->s->host);
	u->active++;
	return 0;
}

/* Take finished transfers: retry them later, or hand them to done. */
static int reap(struct run *u, struct sk_err *err)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(u->s->multi, &left))) {
		struct s3_req *r = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		r->curl_code = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
		curl_multi_remove_handle(u->s->multi, m->easy_handle);
		xfer_drop(r);
		u->active--;
		if (r->overflow)
			r->curl_code = 0;
		if (!r->curl_msg[0] && r->curl_code)
			snprintf(r->curl_msg, sizeof(r->curl_msg), "%s",
				 curl_easy_strerror(r->curl_code));
		if (retryable(r) && r->attempts < S3_ATTEMPTS) {
			r->x_due = log_now() + backoff(r->attempts);
			r->x_next = u->waiting;
			u->waiting = r;
			continue;
		}
		live_del(u, r);
		if (u->ops->done(u->ops->arg, r, err) < 0)
			return -1;
	}
	return 0;
}

/* Start the retries that are due; the time until the next one in *wait_ms. */
static int restart_due(struct run *u, int *wait_ms, struct sk_err *err)
{
	struct s3_req **pp = &u->waiting;
	double now = log_now();

	while (*pp) {
		struct s3_req *r = *pp;

		if (r->x_due <= now) {
			*pp = r->x_next;
			if (xfer_start(u->s, r) < 0)
				return sk_err_set(err, SK_EFAIL, "cannot start a transfer");
			u->active++;
			continue;
		}
		if ((r->x_due - now) * 1000 < *wait_ms)
			*wait_ms = (int)((r->x_due - now) * 1000) + 1;
		pp = &r->x_next;
	}
	return 0;
}

static int run_loop(struct run *u, struct sk_err *err)
{
	double last_tick = log_now();

	for (;;) {
		int running, wait_ms = 200;

		/* Retries waiting count against the limit: a failing store gets no more. */
		while ((int)u->nlive < u->s->c.concurrency) {
			struct s3_req *r = u->ops->next(u->ops->arg, u->nlive == 0);

			if (!r)
				break;
			if (start(u, r, err) < 0)
				return -1;
		}
		if (!u->nlive)
			return 0;
		if (restart_due(u, &wait_ms, err) < 0)
			return -1;
		if (curl_multi_perform(u->s->multi, &running) != CURLM_OK)
			return sk_err_set(err, SK_EFAIL, "libcurl failed");
		if (reap(u, err) < 0)
			return -1;
		if (u->active && curl_multi_poll(u->s->multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
			return sk_err_set(err, SK_EFAIL, "libcurl failed");
		if (!u->active && u->waiting)
			usleep((useconds_t)(wait_ms > 0 ? wait_ms : 1) * 1000);
		if (sig_interrupted())
			return sk_err_set(err, SK_EFAIL, "interrupted");
		if (log_now() - last_tick >= 1.0) {
			last_tick = log_now();
			if (u->ops->tick && u->ops->tick(u->ops->arg, err) < 0)
				return -1;
		}
	}
}

int s3_run(struct s3 *s, const struct s3_ops *ops, struct sk_err *err)
{
	struct run u = { s, ops, 0, NULL, NULL, 0, 0 };
	int ret = run_loop(&u, err);
	size_t i;

	/* Stopped early: drop what is still in flight or waiting. */
	for (i = 0; i < u.nlive; i++) {
		if (u.live[i]->x_handle)
			curl_multi_remove_handle(s->multi, u.live[i]->x_handle);
		s3_req_free(u.live[i]);
	}
	free(u.live);
	return ret;
}

void s3_wakeup(struct s3 *s)
{
	curl_multi_wakeup(s->multi);
}

struct one {
	struct s3_req *r;
	int given, ended;
};

static struct s3_req *one_next(void *arg, int idle)
{
	struct one *o = arg;

	(void)idle;
	if (o->given)
		return NULL;
	o->given = 1;
	return o->r;
}

static int one_done(void *arg, struct s3_req *r, struct sk_err *err)
{
	struct one *o = arg;

	(void)r;
	(void)err;
	o->ended = 1;
	return 0;
}

int s3_do(struct s3 *s, struct s3_req *r, struct sk_err *err)
{
	struct one o = { r, 0, 0 };
	struct s3_ops ops = { one_next, one_done, NULL, &o };
	struct run u = { s, &ops, 0, NULL, NULL, 0, 0 };
	int ret = run_loop(&u, err);

	/* r stays the caller's, whatever happened. */
	if (!o.ended && r->x_handle)
		curl_multi_remove_handle(s->multi, r->x_handle);
	xfer_drop(r);
	free(u.live);
	return ret;
}

/* ---- replies ---- */

static void xml_decode(const char *in, size_t len, char *out, size_t size)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "&amp;", '&' },
		     { "&lt;", '<' },
		     { "&gt;", '>' },
		     { "&quot;", '"' },
		     { "&apos;", '\'' } };
	size_t i = 0, o = 0, k;

	while (i < len && o + 1 < size) {
		char c = in[i++];

		if (c == '&')
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);

				if (len - (i - 1) >= el && !memcmp(in + i - 1, ents[k].ent, el)) {
					c = ents[k].c;
					i += el - 1;
					break;
				}
			}
		out[o++] = (unsigned char)c < 0x20 ? '?' : c;
	}
	out[o] = '\0';
}

/* Where <tag> ... </tag> is in [p, end): the value's start and length. */
static const char *xml_find(const char *p, const char *end, const char *tag, size_t *vlen,
			    const char **after)
{
	char open[64], close[64];
	size_t ol, cl;
	const char *v, *e;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	ol = strlen(open);
	cl = strlen(close);
	v = memmem(p, (size_t)(end - p), open, ol);
	if (!v)
		return NULL;
	v += ol;
	e = memmem(v, (size_t)(end - v), close, cl);
	if (!e)
		return NULL;
	*vlen = (size_t)(e - v);
	if (after)
		*after = e + cl;
	return v;
}

int s3_xml_value(const char *xml, size_t len, const char *tag, char *out, size_t size)
{
	size_t vlen;
	const char *v = xml ? xml_find(xml, xml + len, tag, &vlen, NULL) : NULL;

	if (!v)
		return -1;
	xml_decode(v, vlen, out, size);
	return 0;
}

int s3_req_check(const struct s3 *s, const struct s3_req *r, const char *what, struct sk_err *err)
{
	char code[64] = "", msg[200] = "", tries[32] = "";

	if (r->overflow)
		return sk_err_set(err, SK_EDAMAGED,
				  "%s: the store's reply is longer than %zu bytes", what,
				  r->max_resp);
	if (r->attempts > 1)
		snprintf(tries, sizeof(tries), " (%d attempts)", r->attempts);
	if (r->curl_code)
		return sk_err_set(err, SK_EFAIL, "%s: cannot reach %s: %s%s", what, s->host,
				  r->curl_msg, tries);
	if (r->status >= 200 && r->status < 300)
		return 0;
	s3_xml_value(r->resp, r->resp_len, "Code", code, sizeof(code));
	s3_xml_value(r->resp, r->resp_len, "Message", msg, sizeof(msg));
	if (r->status == 404 && !strcmp(code, "NoSuchBucket"))
		return sk_err_set(err, SK_EUSAGE, "%s: bucket '%s' does not exist at %s", what,
				  s->r.bucket, s->host);
	if (r->status == 404)
		return sk_err_set(err, SK_ENOENT, "%s: not found", what);
	if (r->url && (r->status == 403 || r->status == 401))
		return sk_err_set(err, SK_EUSAGE,
				  "%s: the store refused the presigned URL (%ld %s): expired, or "
				  "signed for another request",
				  what, r->status, code[0] ? code : "AccessDenied");
	if (r->status == 403 || r->status == 401)
		return sk_err_set(err, SK_EUSAGE,
				  "%s: the store refused the credentials (%ld %s): check the "
				  "access "
				  "key, the secret key and the clock",
				  what, r->status, code[0] ? code : "AccessDenied");
	if (!strcmp(code, "InvalidBucketName"))
		return sk_err_set(err, SK_EUSAGE, "%s: the store refuses bucket name '%s'", what,
				  s->r.bucket);
	if (!strcmp(code, "BadDigest") || !strcmp(code, "InvalidDigest"))
		return sk_err_set(err, SK_EFAIL,
				  "%s: the store received other bytes than were sent (%s)", what,
				  code);
	if (r->status >= 500 || r->status == 429)
		return sk_err_set(err, SK_EFAIL, "%s: the store answered %ld %s%s", what, r->status,
				  code, tries);
	return sk_err_set(err, SK_EFAIL, "%s: the store answered %ld %s%s%s", what, r->status, code,
			  msg[0] ? ": " : "", msg);
}

static int64_t parse_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* One page of ListObjectsV2: each entry to cb, and the next token ("" at the end). */
static int list_page(struct s3 *s, const struct s3_req *r, s3_list_fn cb, void *arg, char *token,
		     size_t tsize, struct sk_err *err)
{
	const char *p = r->resp ? r->resp : "", *end = p + r->resp_len;
	size_t plen = strlen(s->r.prefix), vlen;
	char truncated[8] = "";
	const char *v, *after;

	while ((v = xml_find(p, end, "Contents", &vlen, &after))) {
		char key[1200] = "", size[32] = "", mtime[64] = "";

		s3_xml_value(v, vlen, "Key", key, sizeof(key));
		s3_xml_value(v, vlen, "Size", size, sizeof(size));
		s3_xml_value(v, vlen, "LastModified", mtime, sizeof(mtime));
		p = after;
		if (strncmp(key, s->r.prefix, plen) != 0)
			continue;
		if (cb(arg, key + plen, strtoull(size, NULL, 10), parse_time(mtime), err) < 0)
			return -1;
	}
	token[0] = '\0';
	s3_xml_value(r->resp, r->resp_len, "IsTruncated", truncated, sizeof(truncated));
	if (!strcmp(truncated, "true") &&
	    (s3_xml_value(r->resp, r->resp_len, "NextContinuationToken", token, tsize) < 0 ||
	     !token[0]))
		return sk_err_set(err, SK_EDAMAGED, "list %s: a truncated list without a token",
				  s3_name(s));
	return 0;
}

int s3_list(struct s3 *s, const char *sub, s3_list_fn cb, void *arg, struct sk_err *err)
{
	char full[1100], token[1024] = "", etok[3 * 1024], epre[3 * 1100], what[700];
	int ret = -1;

	snprintf(what, sizeof(what), "list %s/%s", s3_name(s), sub);
	if ((size_t)snprintf(full, sizeof(full), "%s%s", s->r.prefix, sub) >= sizeof(full) ||
	    s3_escape(full, epre, sizeof(epre)) < 0)
		return sk_err_set(err, SK_EUSAGE, "%s: the prefix is too long", what);
	do {
		struct s3_req *r = s3_req_new("GET");

		if (!r)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		r->bucket_root = 1;
		r->max_resp = LIST_MAX;
		if (s3_escape(token, etok, sizeof(etok)) < 0) {
			s3_req_free(r);
			return sk_err_set(err, SK_EDAMAGED,
					  "%s: the continuation token is too long", what);
		}
		if (token[0])
			snprintf(r->query, sizeof(r->query),
				 "continuation-token=%s&list-type=2&max-keys=1000&prefix=%s", etok,
				 epre);
		else
			snprintf(r->query, sizeof(r->query), "list-type=2&max-keys=1000&prefix=%s",
				 epre);
		ret = s3_do(s, r, err);
		if (ret == 0)
			ret = s3_req_check(s, r, what, err);
		if (ret == 0)
			ret = list_page(s, r, cb, arg, token, sizeof(token), err);
		s3_req_free(r);
	} while (ret == 0 && token[0]);
	return ret;
}
