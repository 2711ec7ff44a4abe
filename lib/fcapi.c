/*
 * fcapi.c: HTTP/1.1 over Firecracker's Unix API socket with libcurl: one
 * handle per socket, a time limit on every call, the status code and the
 * fault_message of an error body, and the version that GET / reports.
 */
#include "fcapi.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

#define MAX_BODY (4u << 20)

struct fcapi {
	CURL *curl;
	char socket[PATH_MAX];
	int major, minor;
};

struct buf {
	char *p;
	size_t len;
	int overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_setup(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_NOTHING) == CURLE_OK;
}

int fcapi_open(struct fcapi **out, const char *socket, struct sk_err *err)
{
	struct fcapi *fc;

	*out = NULL;
	pthread_once(&curl_once, curl_setup);
	if (!curl_ok)
		return sk_err_set(err, SK_EFAIL, "cannot initialise libcurl");
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (strlen(socket) >= sizeof(fc->socket) || strlen(socket) >= 108) {
		free(fc);
		return sk_err_set(err, SK_EUSAGE,
				  "socket path '%s' is too long (108 bytes at most)", socket);
	}
	snprintf(fc->socket, sizeof(fc->socket), "%s", socket);
	fc->curl = curl_easy_init();
	if (!fc->curl) {
		free(fc);
		return sk_err_set(err, SK_EFAIL, "cannot create a curl handle");
	}
	*out = fc;
	return 0;
}

void fcapi_close(struct fcapi *fc)
{
	if (!fc)
		return;
	curl_easy_cleanup(fc->curl);
	free(fc);
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > MAX_BODY) {
		b->overflow = 1;
		return 0;
	}
	p = realloc(b->p, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, n);
	b->len += n;
	p[b->len] = '\0';
	b->p = p;
	return n;
}

int fcapi_call(struct fcapi *fc, const char *method, const char *path, const char *body,
	       long timeout_ms, char **resp, struct sk_err *err)
{
	char url[512], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	struct buf b = { 0 };
	CURL *c = fc->curl;
	long status = 0;
	CURLcode rc;
	int ret = -1;

	if (resp)
		*resp = NULL;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, fc->socket);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		/* Firecracker does not answer 100-continue; send the body at once. */
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (!strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);

	rc = curl_easy_perform(c);
	if (rc == CURLE_COULDNT_CONNECT) {
		sk_err_set(err, SK_EBUSY, "no Firecracker answers on '%s'", fc->socket);
		goto out;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		sk_err_set(err, SK_EFAIL, "%s %s: no answer from '%s' within %ld s", method, path,
			   fc->socket, timeout_ms / 1000);
		goto out;
	}
	if (rc != CURLE_OK) {
		sk_err_set(err, SK_EFAIL, "%s %s on '%s': %s", method, path, fc->socket,
			   b.overflow  ? "answer too large"
			   : errbuf[0] ? errbuf
				       : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		char fault[400];

		fcjson_fault(b.p, fault, sizeof(fault));
		sk_err_set(err, SK_EFAIL, "%s %s: Firecracker answered %ld: %s", method, path,
			   status, fault);
		goto out;
	}
	if (resp) {
		*resp = b.p;
		b.p = NULL;
	}
	ret = 0;
out:
	curl_slist_free_all(hdr);
	free(b.p);
	return ret;
}

int fcapi_parse_version(const char *s, int *major, int *minor, int *patch)
{
	int a, b, c = 0, n = 0;

	if (*s == 'v')
		s++;
	if (sscanf(s, "%d.%d%n", &a, &b, &n) != 2 || a < 0 || b < 0)
		return -1;
	if (s[n] == '.' && sscanf(s + n + 1, "%d", &c) != 1)
		return -1;
	*major = a;
	*minor = b;
	if (patch)
		*patch = c;
	return 0;
}

int fcapi_describe(struct fcapi *fc, struct fc_instance *out, struct sk_err *err)
{
	char *body = NULL;
	int ret;

	if (fcapi_call(fc, "GET", "/", NULL, FCAPI_TIMEOUT_MS, &body, err) < 0)
		return -1;
	ret = fcjson_instance(body, out, err);
	free(body);
	if (ret == 0 && fcapi_parse_version(out->vmm_version, &fc->major, &fc->minor, NULL) < 0)
		return sk_err_set(err, SK_EFAIL, "Firecracker on '%s' reports version '%s'",
				  fc->socket, out->vmm_version);
	return ret;
}

int fcapi_at_least(const struct fcapi *fc, int major, int minor)
{
	return fc->major > major || (fc->major == major && fc->minor >= minor);
}
