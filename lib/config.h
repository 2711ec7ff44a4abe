/*
 * config: statekit.ini, read with inih. Every key has a built-in default;
 * an unknown section or key, or a bad value, is a usage error (exit 2) that
 * names the file, the line and the key.
 */
#ifndef SK_CONFIG_H
#define SK_CONFIG_H

#include <limits.h>
#include <stdint.h>

#include "codec.h"
#include "retain.h"
#include "err.h"

#define SK_DEFAULT_CONFIG "/etc/statekit/statekit.ini"
#define SK_CMD_MAX 1024

struct sk_config {
	char file[PATH_MAX]; /* the file read, or "" for defaults */

	char state_dir[PATH_MAX];

	char backend[16];	/* "dir" | "containerd" */
	char ws_path[PATH_MAX]; /* template with %s */
	char stop_command[SK_CMD_MAX];
	char start_command[SK_CMD_MAX];
	char legacy_dir[PATH_MAX];
	/* The keep policy: keep is --keep-last; each 0 is a rule that is off. */
	int keep;
	int keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
	struct retain_span keep_within;

	char ctd_address[PATH_MAX];
	char ctd_namespace[128];
	char ctd_container[256]; /* template with %s */
	char ctd_data_path[PATH_MAX];
	int ctd_stop_timeout;
	char ctd_ctr[PATH_MAX];

	enum codec codec;
	int level;
	int threads;
	uint64_t max_entries;
	uint64_t max_bytes;
	uint64_t max_path;
	uint64_t max_depth;

	char fc_binary[PATH_MAX];
	char fc_jailer[PATH_MAX];
	char fc_socket[PATH_MAX]; /* template with %s */
	char fc_chroot[PATH_MAX]; /* template with %s */
	char fc_clone[16];	  /* auto | reflink | copy */
	char fc_snapshot[8];	  /* auto | full: may fcsnap-create take a Diff */
	char rm_endpoint[512];	  /* [remote]: "" takes AWS_ENDPOINT_URL_S3 / _URL */
	char rm_region[64];	  /* "" takes AWS_REGION / AWS_DEFAULT_REGION */
	char rm_addressing[16];	  /* path | virtual */
	int rm_concurrency;	  /* 0: a small multiple of the cores */
	char rm_credentials[PATH_MAX];
};

/*
 * Load the configuration. path is the -c value or NULL; then
 * $STATEKIT_CONFIG; then SK_DEFAULT_CONFIG, whose absence means defaults.
 * A named file that is missing, or any bad line, is SK_EUSAGE.
 */
int config_load(struct sk_config *cfg, const char *path, struct sk_err *err);

/*
 * Replace each "%s" in tmpl by id into out (size bytes). SK_EUSAGE when the
 * result does not fit.
 */
int config_expand(const char *tmpl, const char *id, char *out, size_t size, struct sk_err *err);

/* Parse "123", "4K", "16M", "2G", "1T" (powers of 1024). 0 or -1. */
int config_parse_size(const char *s, uint64_t *out);

/* S3 credentials: the key id, the secret and an optional session token. */
struct sk_creds {
	char access[256];
	char secret[256];
	char token[4096];
};
/*
 * Read aws_access_key_id, aws_secret_access_key and aws_session_token from
 * section profile of the INI file path (the shape of ~/.aws/credentials).
 * The file holds a secret, so one that its group or others may read is
 * refused (SK_EUSAGE, saying so), as is one that does not name both keys.
 */
int config_load_creds(const char *path, const char *profile, struct sk_creds *c,
		      struct sk_err *err);
/* Valid ids match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$. SK_EUSAGE naming what. */
int config_check_id(const char *what, const char *id, struct sk_err *err);

#endif
