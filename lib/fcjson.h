/*
 * fcjson: every JSON statekit reads or writes: Firecracker request and
 * response bodies, the snapshot manifest, and the --json results of the
 * fcsnap commands. Only this module includes jansson.h.
 */
#ifndef SK_FCJSON_H
#define SK_FCJSON_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "hash.h"
#include "index.h"

#define FC_MAX_DRIVES 32
#define FC_MAX_NETS 16
/*
 * The manifest format fcsnap-create writes: 2 has a chunk list per artifact
 * (hash.h) and the artifact's sha256 is the digest of that list; 1 (read
 * and verified still) has the sha256 of the whole file.
 */
#define MANIFEST_FORMAT 2

struct fc_instance {
	char id[128];
	char state[16]; /* "Not started", "Running" or "Paused" */
	char vmm_version[32];
};

struct fc_drive {
	char id[72];
	char path[PATH_MAX]; /* path_on_host as Firecracker has it */
	int read_only;
	int vhost_user; /* a socket, not a file: cannot be cloned */
};

struct fc_net {
	char iface[72];
	char tap[32];
	char mac[32];
};

/* What statekit needs from GET /vm/config, plus the whole text. */
struct fc_vmconfig {
	int vcpus;
	int mem_mib;
	int track_dirty; /* machine-config track_dirty_pages */
	char boot_args[4096];
	int ndrives;
	struct fc_drive drives[FC_MAX_DRIVES];
	int nnets;
	struct fc_net nets[FC_MAX_NETS];
	char vsock_uds[PATH_MAX];
	char *raw; /* the response body, malloc'd */
};

/* The fault_message of an error body, or the body itself cut to size. */
void fcjson_fault(const char *body, char *out, size_t size);
/* Parse GET / ; SK_EFAIL naming what is missing. */
int fcjson_instance(const char *body, struct fc_instance *out, struct sk_err *err);
/* Parse GET /vm/config into *out (raw is taken over from body: pass a malloc'd body). */
int fcjson_vmconfig(char *body, struct fc_vmconfig *out, struct sk_err *err);

/* Request bodies; malloc'd strings, NULL when out of memory. */
char *fcjson_body_vm_state(const char *state);
/* snapshot_type "Diff" when diff, else "Full". */
char *fcjson_body_snapshot_create(const char *state_path, const char *mem_path, int diff);
/*
 * The load body. mem_backend: 1 sends mem_backend (Firecracker 1.1 and
 * later), 0 the older mem_file_path. overrides (n of them, may be 0) become
 * network_overrides, which only 1.12 and later know; vsock_uds (NULL for
 * none) vsock_override, 1.16 and later; track_dirty sends track_dirty_pages
 * true (1.13 and later).
 */
char *fcjson_body_snapshot_load(const char *state_path, const char *mem_path, int mem_backend,
				const struct fc_net *overrides, int n, const char *vsock_uds,
				int track_dirty);

/* The vsock uds_path of a /vm/config text into out, "" when it has none. */
void fcjson_vsock_path(const char *vmconfig, char *out, size_t size);

struct ctrd_container;
/*
 * Parse `ctr containers info` output (len bytes): the top-level SnapshotKey
 * and Snapshotter, and the statekit.log-uri and stop-signal labels. Only the
 * top level and Labels are looked at: the spec holds strings the bot's
 * creator chose. A value that does not fit, holds a NUL or has the wrong
 * type is an error (truncating a name would make it another name): -1 with
 * the reason in err (SK_EFAIL).
 */
int fcjson_ctr_container(const char *text, size_t len, struct ctrd_container *out,
			 struct sk_err *err);

/* manifest.json of a snapshot directory. */
struct manifest {
	int format;
	char snapshot[72];
	char machine[72];
	int64_t created;
	char vmm_version[32];
	char snapshot_version[32]; /* "" when unknown */
	int jailed;
	long uid, gid;	   /* jailed: who the jail ran as */
	char guest_ip[64]; /* from ip= in the boot args, "" if none */
	int64_t pause_us;
	int nnets;
	struct fc_net nets[FC_MAX_NETS];
	int nart;
	struct artifact_row *arts; /* malloc'd */
	uint32_t chunk_size;	   /* format 2 */
	int diff;		   /* format 2: a Diff snapshot merged onto base */
	char base[72];		   /* its base snapshot, "" for an empty (zero) memory file */
	char diff_pages[16];	   /* "dirty-log" or "resident": how Firecracker chose pages */
	struct chunk_list *chunks; /* format 2: nart of them, malloc'd; NULL in format 1 */
	char *vm_config;	   /* GET /vm/config text, malloc'd, may be NULL */
};

/* The manifest as text (malloc'd, ends in a newline). */
char *fcjson_manifest_dump(const struct manifest *m, struct sk_err *err);
/*
 * Parse and check a manifest: known format, valid ids, artifact names that
 * are plain file names inside the snapshot, known kinds, 64-digit sha256s,
 * one state and one memory file, unique names; in format 2 a chunk size
 * that is a power of two from HASH_CHUNK_MIN to HASH_CHUNK_MAX, and per
 * artifact as many chunk digests as its size has chunks, whose digest is its
 * sha256. Anything else SK_EDAMAGED.
 */
int fcjson_manifest_parse(const char *text, struct manifest *m, struct sk_err *err);
void fcjson_manifest_free(struct manifest *m);

/* A small builder for --json results, so callers need not see jansson. */
struct fcjson;
struct fcjson *fcjson_obj(void);
struct fcjson *fcjson_arr(void);
/*
 * A string value (NULL: null). Bytes that are not valid UTF-8 (a path may
 * hold any byte) each become the character U+0080..U+00FF of the same
 * value, as if read as Latin-1, so the output is always valid JSON.
 */
void fcjson_set_str(struct fcjson *o, const char *key, const char *val);
/* A string (as fcjson_set_str takes it) to append to an array. */
struct fcjson *fcjson_str(const char *val);
void fcjson_set_int(struct fcjson *o, const char *key, int64_t val);
void fcjson_set_real(struct fcjson *o, const char *key, double val);
void fcjson_set_bool(struct fcjson *o, const char *key, int val);
/*
 * The schema of statekit(7): a time t (unix seconds) as key, an RFC 3339
 * UTC string, and key_epoch, integer seconds; t == 0 (never) makes both null.
 */
void fcjson_set_time(struct fcjson *o, const char *key, int64_t t);
/* Milliseconds rounded to 3 decimals (whole microseconds). */
void fcjson_set_ms(struct fcjson *o, const char *key, double ms);
/* Takes child over. */
void fcjson_set(struct fcjson *o, const char *key, struct fcjson *child);
void fcjson_append(struct fcjson *a, struct fcjson *child);
/* Print with a newline and free. -1 on a write error. */
int fcjson_print(FILE *f, struct fcjson *v);
/* The same on one line, without spaces (a single result). */
int fcjson_print_line(FILE *f, struct fcjson *v);
void fcjson_free(struct fcjson *v);

/* A JSON text (a manifest) as a value to set or append; NULL if it is not JSON. */
struct fcjson *fcjson_from_text(const char *text);

/*
 * The object store's format marker: {"statekit_store": version}. Parsing
 * takes any JSON object with a positive integer there (SK_EDAMAGED else).
 */
char *fcjson_store_marker(int version);
int fcjson_store_marker_parse(const char *text, int *version, struct sk_err *err);
/* A lock object's body, for people who look: who holds it, since when, what for. */
char *fcjson_lock_body(const char *host, long pid, const char *op, int exclusive, int64_t t);

/* fcsnap-push --presigned PLAN.json: per artifact, its part size and UploadPart URLs. */
struct presign_part {
	int number; /* 1..10000 */
	char *url;
};
struct presign_art {
	char name[80];
	uint64_t part_size;
	int nparts;
	struct presign_part *parts;
	char *url; /* fcsnap-pull --presigned: the artifact's GET URL */
};
struct presign {
	int nart;
	struct presign_art *arts;
	char *manifest; /* SPEC.json's manifest, as text */
};
/*
 * Parse a PLAN (pull 0: "artifacts": [{"name", "part_size", "parts":
 * [{"part_number", "url"}]}]) or a SPEC (pull 1: "manifest": {...},
 * "artifacts": [{"name", "url"}]). Names must be safe, unique, part numbers
 * 1 to 10000 and ascending, URLs http(s). SK_EUSAGE naming what is wrong.
 */
int fcjson_presign_parse(const char *text, int pull, struct presign *p, struct sk_err *err);
void fcjson_presign_free(struct presign *p);

/* Is name a safe artifact file name: [A-Za-z0-9._-], not "." or "..", < 80 bytes? */
int fcjson_safe_name(const char *name);

#endif
