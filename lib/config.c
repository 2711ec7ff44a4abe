/*
 * config.c: statekit.ini parsed with inih into struct sk_config. One table
 * lists every key with its type and range; anything not in it is exit 2 with
 * file, line and key. Also the %s expansion of templates and the id check
 * every bot, machine and snapshot name passes before a path is built.
 */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "banned.h"

enum kind { K_STR, K_TMPL, K_INT, K_SIZE, K_CODEC, K_CHOICE, K_SPAN };

struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;	     /* for K_STR and K_CHOICE: buffer size */
	long min, max;	     /* for K_INT */
	const char *choices; /* for K_CHOICE: "a|b|c"; for K_TMPL: what %s is */
	int empty_ok;	     /* for K_TMPL: the empty value is allowed too */
};

/* clang-format off */
#define S(sec, key, field, ...)                                                  \
	{ sec, key, K_STR, offsetof(struct sk_config, field),                    \
	  sizeof(((struct sk_config *)0)->field), 0, 0, NULL, 0 }
/* A per-object template: a value without %s would give every id one place. */
#define T(sec, key, field, what, empty_ok)                                       \
	{ sec, key, K_TMPL, offsetof(struct sk_config, field),                   \
	  sizeof(((struct sk_config *)0)->field), 0, 0, what, empty_ok }
#define I(sec, key, field, lo, hi)                                               \
	{ sec, key, K_INT, offsetof(struct sk_config, field), 0, lo, hi, NULL, 0 }
#define Z(sec, key, field)                                                       \
	{ sec, key, K_SIZE, offsetof(struct sk_config, field), 0, 0, 0, NULL, 0 }
#define C(sec, key, field, ch)                                                   \
	{ sec, key, K_CHOICE, offsetof(struct sk_config, field),                 \
	  sizeof(((struct sk_config *)0)->field), 0, 0, ch, 0 }
/* clang-format on */

static const struct key keys[] = {
	S("state", "dir", state_dir),
	C("workspace", "backend", backend, "dir|containerd"),
	T("workspace", "path", ws_path, "a path with %s for the bot id", 0),
	S("workspace", "stop_command", stop_command),
	S("workspace", "start_command", start_command),
	S("workspace", "legacy_dir", legacy_dir),
	I("workspace", "keep", keep, 0, 1000000),
	I("workspace", "keep_hourly", keep_hourly, 0, 1000000),
	I("workspace", "keep_daily", keep_daily, 0, 1000000),
	I("workspace", "keep_weekly", keep_weekly, 0, 1000000),
	I("workspace", "keep_monthly", keep_monthly, 0, 1000000),
	I("workspace", "keep_yearly", keep_yearly, 0, 1000000),
	{ "workspace", "keep_within", K_SPAN, offsetof(struct sk_config, keep_within), 0, 0, 0,
	  NULL, 0 },
	S("containerd", "address", ctd_address),
	S("containerd", "namespace", ctd_namespace),
	T("containerd", "container", ctd_container, "a container id with %s for the bot id", 0),
	S("containerd", "data_path", ctd_data_path),
	I("containerd", "stop_timeout", ctd_stop_timeout, 0, 86400),
	S("containerd", "ctr", ctd_ctr),
	{ "archive", "compression", K_CODEC, offsetof(struct sk_config, codec), 0, 0, 0, NULL, 0 },
	I("archive", "level", level, 0, 22),
	I("archive", "threads", threads, 0, 1024),
	Z("archive", "max_entries", max_entries),
	Z("archive", "max_bytes", max_bytes),
	Z("archive", "max_path", max_path),
	Z("archive", "max_depth", max_depth),
	S("firecracker", "binary", fc_binary),
	S("firecracker", "jailer", fc_jailer),
	T("firecracker", "socket", fc_socket, "a path with %s for the machine id", 0),
	T("firecracker", "chroot", fc_chroot, "a path with %s for the machine id, or nothing", 1),
	C("firecracker", "clone", fc_clone, "auto|reflink|copy"),
	C("firecracker", "snapshot", fc_snapshot, "auto|full"),
	S("remote", "endpoint", rm_endpoint),
	S("remote", "region", rm_region),
	C("remote", "addressing", rm_addressing, "path|virtual"),
	I("remote", "concurrency", rm_concurrency, 0, 256),
	S("remote", "credentials_file", rm_credentials),
};

struct parse {
	struct sk_config *cfg;
	struct sk_err *err;
	int failed;
	int ws_path_set, legacy_set;
};

int config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		end++;
		break;
	case 'M':
	case 'm':
		shift = 20;
		end++;
		break;
	case 'G':
	case 'g':
		shift = 30;
		end++;
		break;
	case 'T':
	case 't':
		shift = 40;
		end++;
		break;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* inih calls this for every key; returning 0 makes ini_parse report the line. */
/* The key named in section, or NULL; *known_section says whether section is one. */
static const struct key *find_key(const char *section, const char *name, int *known_section)
{
	size_t i;

	*known_section = 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		*known_section = 1;
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

/* Check value against what key k takes and store it; 0 with ps->err set if it is bad. */
static int set_value(struct parse *ps, const struct key *k, const char *name, const char *value)
{
	char *base = (char *)ps->cfg;

	switch (k->kind) {
	case K_TMPL:
		if (!strstr(value, "%s") && !(k->empty_ok && !*value)) {
			sk_err_set(ps->err, SK_EUSAGE, "bad value '%s' for '%s' (expected %s)",
				   value, name, k->choices);
			return 0;
		}
		/* fall through */
	case K_STR:
	case K_CHOICE:
		if (k->kind == K_CHOICE && !choice_ok(k->choices, value)) {
			sk_err_set(ps->err, SK_EUSAGE, "bad value '%s' for '%s' (expected %s)",
				   value, name, k->choices);
			return 0;
		}
		if (strlen(value) >= k->size) {
			sk_err_set(ps->err, SK_EUSAGE, "value of '%s' is too long", name);
			return 0;
		}
		memcpy(base + k->off, value, strlen(value) + 1);
		break;
	case K_INT: {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < k->min || v > k->max) {
			sk_err_set(ps->err, SK_EUSAGE,
				   "bad value '%s' for '%s' (expected a number from %ld to %ld)",
				   value, name, k->min, k->max);
			return 0;
		}
		*(int *)(base + k->off) = (int)v;
		break;
	}
	case K_SPAN:
		if (retain_parse_span(value, (struct retain_span *)(base + k->off)) < 0) {
			sk_err_set(ps->err, SK_EUSAGE,
				   "bad value '%s' for '%s' (expected a span like 30d, 2w or 1y6m)",
				   value, name);
			return 0;
		}
		break;
	case K_SIZE: {
		uint64_t v;

		if (config_parse_size(value, &v) < 0 || v == 0) {
			sk_err_set(ps->err, SK_EUSAGE,
				   "bad value '%s' for '%s' (expected a positive size like 4096 or "
				   "64G)",
				   value, name);
			return 0;
		}
		/* A longer name than Linux takes in a path would be exported and
		 * then refused by every import. */
		if (k->off == offsetof(struct sk_config, max_path) && v > PATH_MAX) {
			sk_err_set(ps->err, SK_EUSAGE,
				   "bad value '%s' for '%s' (at most %d, the longest path Linux "
				   "takes)",
				   value, name, PATH_MAX);
			return 0;
		}
		*(uint64_t *)(base + k->off) = v;
		break;
	}
	case K_CODEC:
		if (codec_parse(value, (enum codec *)(base + k->off)) < 0) {
			sk_err_set(ps->err, SK_EUSAGE,
				   "bad value '%s' for '%s' (expected gzip, zstd or none)", value,
				   name);
			return 0;
		}
		break;
	}
	return 1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	const struct key *k;
	int known_section;

	if (ps->failed)
		return 1;
	k = find_key(section, name, &known_section);
	ps->failed = 1;
	if (!known_section) {
		sk_err_set(ps->err, SK_EUSAGE, "unknown section '[%s]'", section);
		return 0;
	}
	if (!k) {
		sk_err_set(ps->err, SK_EUSAGE, "unknown key '%s' in [%s]", name, section);
		return 0;
	}
	if (!set_value(ps, k, name, value))
		return 0;
	if (strcmp(section, "workspace") == 0 && strcmp(name, "path") == 0)
		ps->ws_path_set = 1;
	if (strcmp(section, "workspace") == 0 && strcmp(name, "legacy_dir") == 0)
		ps->legacy_set = 1;
	ps->failed = 0;
	return 1;
}

static int keeps_any(const struct sk_config *c)
{
	struct retain_policy p = { c->keep,	    c->keep_hourly, c->keep_daily, c->keep_weekly,
				   c->keep_monthly, c->keep_yearly, c->keep_within };

	return retain_policy_any(&p);
}

static void set_defaults(struct sk_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/statekit");
	snprintf(c->backend, sizeof(c->backend), "dir");
	c->keep = 3;
	snprintf(c->ctd_address, sizeof(c->ctd_address), "/run/containerd/containerd.sock");
	snprintf(c->ctd_namespace, sizeof(c->ctd_namespace), "default");
	snprintf(c->ctd_container, sizeof(c->ctd_container), "workspace-%%s");
	snprintf(c->ctd_data_path, sizeof(c->ctd_data_path), "/data");
	c->ctd_stop_timeout = 10;
	snprintf(c->ctd_ctr, sizeof(c->ctd_ctr), "ctr");
	c->codec = CODEC_GZIP;
	c->max_entries = 1000000;
	c->max_bytes = 1ULL << 40;
	c->max_path = 4096;
	c->max_depth = 256;
	snprintf(c->fc_binary, sizeof(c->fc_binary), "firecracker");
	snprintf(c->fc_socket, sizeof(c->fc_socket),
		 "/srv/jailer/firecracker/%%s/root/run/firecracker.socket");
	snprintf(c->fc_chroot, sizeof(c->fc_chroot), "/srv/jailer/firecracker/%%s/root");
	snprintf(c->fc_clone, sizeof(c->fc_clone), "auto");
	snprintf(c->fc_snapshot, sizeof(c->fc_snapshot), "auto");
	snprintf(c->rm_addressing, sizeof(c->rm_addressing), "path");
}

static const char *const sections[] = { "state",   "workspace",	  "containerd",
					"archive", "firecracker", "remote" };

/*
 * inih calls the handler only for keys, so a section with no keys would
 * pass unseen: check every "[name]" line first, with its line number.
 */
static int check_sections(const char *path, struct sk_err *err)
{
	char *line = NULL;
	size_t cap = 0, i;
	int lineno = 0, ret = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return sk_err_sys(err, SK_EUSAGE, errno, "cannot read config '%s'", path);
	while (getline(&line, &cap, f) >= 0) {
		char *p = line, *end;
		int known = 0;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '[')
			continue;
		end = strchr(++p, ']');
		if (!end)
			continue; /* inih reports it as a syntax error */
		*end = '\0';
		for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
			if (strcmp(p, sections[i]) == 0)
				known = 1;
		if (!known) {
			ret = sk_err_set(err, SK_EUSAGE, "%s:%d: unknown section '[%s]'", path,
					 lineno, p);
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

int config_load(struct sk_config *cfg, const char *path, struct sk_err *err)
{
	struct parse ps = { cfg, err, 0, 0, 0 };
	int named = 1, line;

	set_defaults(cfg);
	if (!path || !*path)
		path = getenv("STATEKIT_CONFIG");
	if (!path || !*path) {
		path = SK_DEFAULT_CONFIG;
		named = 0;
	}
	if (access(path, F_OK) < 0) {
		if (errno == ENOENT && !named)
			goto derive;
		return sk_err_sys(err, SK_EUSAGE, errno, "cannot read config '%s'", path);
	}
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	if (check_sections(path, err) < 0)
		return -1;
	/* Debian's inih takes these at run time. No continuation lines: an
	 * indented key must stay a key. Long lines (a stop_command) whole. */
	ini_allow_multiline = false;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 65536;
	line = ini_parse(path, on_key, &ps);
	if (line < 0)
		return sk_err_sys(err, SK_EUSAGE, errno ? errno : EIO, "cannot read config '%s'",
				  path);
	if (line > 0) {
		if (!ps.failed)
			sk_err_set(err, SK_EUSAGE, "syntax error");
		return sk_err_wrap(err, "%s:%d", path, line);
	}
derive:
	if (!keeps_any(cfg))
		return sk_err_set(err, SK_EUSAGE,
				  "%s: [workspace] keeps no generation: set keep or a keep_* key",
				  cfg->file[0] ? cfg->file : "defaults");
	if (cfg->state_dir[0] != '/')
		return sk_err_set(err, SK_EUSAGE, "%s: [state] dir must be an absolute path",
				  cfg->file[0] ? cfg->file : "defaults");
	/* Defaults under /var/lib/statekit follow state.dir when only it is set. */
	if (!ps.ws_path_set &&
	    (size_t)snprintf(cfg->ws_path, sizeof(cfg->ws_path), "%s/workspaces/%%s",
			     cfg->state_dir) >= sizeof(cfg->ws_path))
		return sk_err_set(err, SK_EUSAGE, "[state] dir is too long");
	if (!ps.legacy_set && (size_t)snprintf(cfg->legacy_dir, sizeof(cfg->legacy_dir), "%s/bots",
					       cfg->state_dir) >= sizeof(cfg->legacy_dir))
		return sk_err_set(err, SK_EUSAGE, "[state] dir is too long");
	return 0;
}

int config_expand(const char *tmpl, const char *id, char *out, size_t size, struct sk_err *err)
{
	size_t o = 0, idlen = strlen(id);
	const char *p;

	for (p = tmpl; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			if (o + idlen >= size)
				goto toolong;
			memcpy(out + o, id, idlen);
			o += idlen;
			p++;
			continue;
		}
		if (o + 1 >= size)
			goto toolong;
		out[o++] = *p;
	}
	out[o] = '\0';
	return 0;
toolong:
	return sk_err_set(err, SK_EUSAGE, "expanded '%s' is too long", tmpl);
}

struct creds_parse {
	const char *profile;
	struct sk_creds *c;
	int seen;
};

static int on_cred(void *user, const char *section, const char *name, const char *value)
{
	struct creds_parse *cp = user;
	char *dst = NULL;
	size_t size = 0;

	if (strcmp(section, cp->profile) != 0)
		return 1;
	cp->seen = 1;
	if (!strcmp(name, "aws_access_key_id")) {
		dst = cp->c->access;
		size = sizeof(cp->c->access);
	} else if (!strcmp(name, "aws_secret_access_key")) {
		dst = cp->c->secret;
		size = sizeof(cp->c->secret);
	} else if (!strcmp(name, "aws_session_token")) {
		dst = cp->c->token;
		size = sizeof(cp->c->token);
	}
	if (dst && strlen(value) < size)
		memcpy(dst, value, strlen(value) + 1);
	return !dst || strlen(value) < size;
}

int config_load_creds(const char *path, const char *profile, struct sk_creds *c, struct sk_err *err)
{
	struct creds_parse cp = { profile, c, 0 };
	struct stat st;
	FILE *f;
	int line;

	memset(c, 0, sizeof(*c));
	f = fopen(path, "re");
	if (!f)
		return sk_err_sys(err, SK_EUSAGE, errno, "cannot read credentials file '%s'", path);
	/* Checked on the file opened, so that it cannot be swapped in between. */
	if (fstat(fileno(f), &st) < 0 || (st.st_mode & 077)) {
		fclose(f);
		return sk_err_set(err, SK_EUSAGE,
				  "credentials file '%s' may be read by others (mode %04o): "
				  "chmod 600 it",
				  path, (unsigned)(st.st_mode & 07777));
	}
	line = ini_parse_file(f, on_cred, &cp);
	fclose(f);
	/* The line is named, never its text: it may hold the secret. */
	if (line != 0)
		return sk_err_set(err, SK_EUSAGE, "credentials file '%s': line %d is not valid",
				  path, line);
	if (!cp.seen || !c->access[0] || !c->secret[0])
		return sk_err_set(err, SK_EUSAGE,
				  "credentials file '%s' has no [%s] with aws_access_key_id and "
				  "aws_secret_access_key",
				  path, profile);
	return 0;
}

int config_check_id(const char *what, const char *id, struct sk_err *err)
{
	char shown[128];
	size_t i, n = strlen(id);

	if (n == 0 || n > 64)
		goto bad;
	for (i = 0; i < n; i++) {
		char c = id[i];
		int alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			goto bad;
	}
	return 0;
bad:
	/*
	 * The id may come from an untrusted place (a snapshot manifest read
	 * by fcsnap-import, a directory name): control bytes would reach the
	 * operator's terminal as escape sequences or split the message, so
	 * they are shown as '?'.
	 */
	for (i = 0; i < n && i < sizeof(shown) - 1; i++) {
		unsigned char c = (unsigned char)id[i];

		shown[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	shown[i] = '\0';
	return sk_err_set(err, SK_EUSAGE,
			  "invalid %s id '%s%s' (expected 1-64 of A-Z a-z 0-9 _ -, "
			  "starting with a letter or digit)",
			  what, shown, n >= sizeof(shown) ? "..." : "");
}
