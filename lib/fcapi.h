/*
 * fcapi: a client for one Firecracker's API socket: HTTP/1.1 over a Unix
 * socket through libcurl. It reads the status code only (Firecracker sends an
 * empty reason phrase), turns an error body into its fault_message, and
 * times out instead of hanging. Only this module includes curl.h.
 */
#ifndef SK_FCAPI_H
#define SK_FCAPI_H

#include "err.h"
#include "fcjson.h"

#define FCAPI_TIMEOUT_MS 10000L	      /* ordinary requests */
#define FCAPI_SLOW_TIMEOUT_MS 600000L /* snapshot create and load write and read GiBs */

struct fcapi;

/* A client for socket; nothing is sent yet. */
int fcapi_open(struct fcapi **out, const char *socket, struct sk_err *err);
void fcapi_close(struct fcapi *fc);

/*
 * One request (body may be NULL). 2xx: 0, and *resp (if resp is not NULL)
 * gets the body, malloc'd, or NULL when there was none. Otherwise -1: a
 * socket nobody answers on is SK_EBUSY ("not running"), a timeout or an
 * error status SK_EFAIL with Firecracker's fault_message.
 */
int fcapi_call(struct fcapi *fc, const char *method, const char *path, const char *body,
	       long timeout_ms, char **resp, struct sk_err *err);

/* GET /: state and version; remembers the version for fcapi_at_least. */
int fcapi_describe(struct fcapi *fc, struct fc_instance *out, struct sk_err *err);

/* 1 if the Firecracker described last is major.minor or newer. */
int fcapi_at_least(const struct fcapi *fc, int major, int minor);

/* Split "1.16.1" (a leading 'v' is fine) into numbers; -1 if it is not a version. */
int fcapi_parse_version(const char *s, int *major, int *minor, int *patch);

#endif
