/*
 * ctrd.c: containerd through its own client ctr, run without a shell. Each
 * call builds an argv, captures output under a time limit, and parses it
 * strictly (a small JSON reader for container info); anything unexpected is
 * an error, never a guess.
 */
#include "ctrd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcjson.h"
#include "proc.h"
#include "banned.h"

#define CTRD_MAX_OUT (16u << 20) /* a container's JSON is a few KiB */
#define CTRD_MAX_ERR 4096	 /* the tail of stderr is what matters */
#define CTRD_MAX_ARGS 24

struct buf {
	char *p;
	size_t len, cap;
};

void ctrd_init(struct ctrd *c, const char *ctr, const char *address, const char *ns, int timeout_s)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->ctr, sizeof(c->ctr), "%s", ctr);
	snprintf(c->address, sizeof(c->address), "%s", address);
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	c->timeout_s = timeout_s > 0 ? timeout_s : 60;
}

/* The socket path an address names, or NULL for other schemes. */
static const char *socket_path(const char *address)
{
	if (strncmp(address, "unix://", 7) == 0)
		return address + 7;
	if (strstr(address, "://"))
		return NULL;
	return address;
}

int ctrd_check_address(const struct ctrd *c, struct sk_err *err)
{
	const char *path = socket_path(c->address);
	struct stat st;

	if (!path)
		return 0;
	if (stat(path, &st) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot reach containerd at '%s'",
				  c->address);
	if (!S_ISSOCK(st.st_mode))
		return sk_err_set(err, SK_EFAIL, "cannot reach containerd at '%s': not a socket",
				  c->address);
	return 0;
}

static int buf_add(struct buf *b, const char *data, size_t n, size_t max)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > max + 1)
			return -1;
		p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Keep only the last max bytes of stderr: errors come last. */
static void tail_add(char *tail, size_t *len, const char *data, size_t n)
{
	if (n >= CTRD_MAX_ERR - 1) {
		data += n - (CTRD_MAX_ERR - 1);
		n = CTRD_MAX_ERR - 1;
	}
	if (*len + n > CTRD_MAX_ERR - 1) {
		size_t drop = *len + n - (CTRD_MAX_ERR - 1);

		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
	}
	memcpy(tail + *len, data, n);
	*len += n;
	tail[*len] = '\0';
}

/*
 * The last non-empty line of ctr's stderr, without its "ctr: " prefix:
 * ctr ends with its error there, after any log lines.
 */
static const char *last_line(char *s)
{
	char *end = s + strlen(s), *start;

	while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(s, '\n');
	start = start ? start + 1 : s;
	if (strncmp(start, "ctr: ", 5) == 0)
		start += 5;
	return *start ? start : "no message";
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One run of ctr: its argv, its child, and what came back. */
struct ctr_run {
	const struct ctrd *c;
	const char *what;
	char addr[PATH_MAX + 16], ns[160], who[PATH_MAX + 2];
	const char *argv[CTRD_MAX_ARGS];
	struct proc_spawn sp;
	int outp[2], errp[2];
	char errtail[CTRD_MAX_ERR];
	size_t errlen;
	int e, timed_out, overflow;
};

/* The global options, then args. */
static void ctr_argv(struct ctr_run *r, const char *const *args)
{
	const struct ctrd *c = r->c;
	size_t n = 0;

	snprintf(r->addr, sizeof(r->addr), "--address=%s", c->address);
	snprintf(r->ns, sizeof(r->ns), "--namespace=%s", c->ns);
	r->argv[n++] = c->ctr;
	r->argv[n++] = r->addr;
	r->argv[n++] = r->ns;
	/* Without it a socket nobody listens on costs ctr ten seconds. */
	r->argv[n++] = "--connect-timeout=5s";
	while (*args && n < CTRD_MAX_ARGS - 1)
		r->argv[n++] = *args++;
	r->argv[n] = NULL;
}

/* Start ctr with its stdout and stderr on pipes we read. */
static int ctr_start(struct ctr_run *r, struct sk_err *err)
{
	struct proc_spawn *sp = &r->sp;

	if (pipe2(r->outp, O_CLOEXEC) < 0 || pipe2(r->errp, O_CLOEXEC) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "%s: pipe", r->what);
	snprintf(r->who, sizeof(r->who), "'%s'", r->c->ctr);
	sp->out_fd = r->outp[1];
	sp->err_fd = r->errp[1];
	/* Not in the terminal's process group: a Ctrl-C meant for statekit
	 * must not kill the ctr that starts the bot again. */
	sp->group = PROC_NEW_GROUP;
	if (proc_spawn(sp, r->who, err) < 0)
		return -1;
	close(r->outp[1]);
	close(r->errp[1]);
	r->outp[1] = r->errp[1] = -1;
	return 0;
}

/*
 * Read both pipes until ctr closes them, the time limit passes (timed_out),
 * stdout grows past CTRD_MAX_OUT (overflow) or poll fails (e).
 */
static void ctr_collect(struct ctr_run *r, struct buf *out)
{
	double deadline = now() + r->c->timeout_s;
	int i;

	while (r->outp[0] >= 0 || r->errp[0] >= 0) {
		struct pollfd pf[2] = { { r->outp[0], POLLIN, 0 }, { r->errp[0], POLLIN, 0 } };
		double left = deadline - now();
		char chunk[8192];
		int rc;

		if (left <= 0) {
			r->timed_out = 1;
			break;
		}
		rc = poll(pf, 2, (int)(left * 1000) + 1);
		if (rc < 0 && errno != EINTR) {
			r->e = errno;
			break;
		}
		for (i = 0; rc > 0 && i < 2; i++) {
			int *fd = i == 0 ? &r->outp[0] : &r->errp[0];
			ssize_t got;

			if (*fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(*fd, chunk, sizeof(chunk));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(*fd);
				*fd = -1;
			} else if (i == 1) {
				tail_add(r->errtail, &r->errlen, chunk, (size_t)got);
			} else if (buf_add(out, chunk, (size_t)got, CTRD_MAX_OUT) < 0) {
				r->overflow = 1;
			}
		}
		if (r->overflow)
			break;
	}
}

/* Reap ctr (killed first if we gave up on it) and judge how it ended. */
static int ctr_reap(struct ctr_run *r, struct sk_err *err)
{
	const struct ctrd *c = r->c;
	const char *what = r->what;
	int status;

	if (r->timed_out || r->overflow || r->e)
		kill(r->sp.pid, SIGKILL);
	if (proc_wait(r->sp.pid, &status, r->who, err) < 0)
		return -1;
	if (r->timed_out)
		return sk_err_set(err, SK_EFAIL,
				  "%s: no answer from containerd at '%s' within %d s", what,
				  c->address, c->timeout_s);
	if (r->overflow)
		return sk_err_set(err, SK_EFAIL, "%s: more output than %u bytes", what,
				  CTRD_MAX_OUT);
	if (r->e)
		return sk_err_sys(err, SK_EFAIL, r->e, "%s: poll", what);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *line = last_line(r->errtail);

		if (strstr(line, "failed to dial"))
			return sk_err_set(err, SK_EFAIL, "cannot reach containerd at '%s': %s",
					  c->address, line);
		if (WIFEXITED(status))
			return sk_err_set(err, SK_EFAIL, "%s: %s", what, line);
		return sk_err_set(err, SK_EFAIL, "%s: ctr killed by signal %d", what,
				  WTERMSIG(status));
	}
	return 0;
}

/*
 * Run ctr with the global options and args; its stdout into *out (NUL
 * terminated, malloc'd; may be NULL to discard), the tail of its stderr
 * into errtail. what names the call in errors ("ctr tasks kill").
 */
static int run_ctr(const struct ctrd *c, const char *what, const char *const *args, struct buf *out,
		   struct sk_err *err)
{
	struct ctr_run *r;
	struct buf discard = { 0 };
	int i, ret = -1;

	if (!out)
		out = &discard;
	/* Its buffers are some 20 KB: on the heap, not on the caller's stack. */
	r = calloc(1, sizeof(*r));
	if (!r) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	r->c = c;
	r->what = what;
	r->sp = (struct proc_spawn)PROC_SPAWN_INIT((char *const *)r->argv);
	r->outp[0] = r->outp[1] = r->errp[0] = r->errp[1] = -1;
	ctr_argv(r, args);
	if (ctr_start(r, err) < 0)
		goto out;
	ctr_collect(r, out);
	if (ctr_reap(r, err) < 0)
		goto out;
	ret = 0;
out:
	/* Callers always get a string on success, never one on failure. */
	if (ret == 0 && !out->p && buf_add(out, "", 0, CTRD_MAX_OUT) < 0)
		ret = sk_err_set(err, SK_EFAIL, "out of memory");
	if (ret < 0 || out == &discard) {
		free(out->p);
		memset(out, 0, sizeof(*out));
	}
	for (i = 0; r && i < 2; i++) {
		if (r->outp[i] >= 0)
			close(r->outp[i]);
		if (r->errp[i] >= 0)
			close(r->errp[i]);
	}
	free(r);
	return ret;
}

/* Split s in place into whitespace-separated fields; returns their number. */
static int fields(char *s, char **f, int max)
{
	int n = 0;

	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (n == max)
			return max + 1;
		f[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = '\0';
	}
	return n;
}

/* The next line of *cursor (NUL terminated in place), or NULL at the end. */
static char *next_line(char **cursor)
{
	char *s = *cursor, *nl;

	if (!s || !*s)
		return NULL;
	nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = s + strlen(s);
	}
	if (nl && nl > s && nl[-1] == '\r')
		nl[-1] = '\0';
	return s;
}

int ctrd_container_ids(const struct ctrd *c, void (*add)(void *arg, const char *id), void *arg,
		       struct sk_err *err)
{
	const char *args[] = { "containers", "list", "--quiet", NULL };
	struct buf out = { 0 };
	char *cur, *line;

	if (ctrd_check_address(c, err) < 0 ||
	    run_ctr(c, "ctr containers list", args, &out, err) < 0)
		return -1;
	cur = out.p;
	while ((line = next_line(&cur)) != NULL) {
		char *f[2];

		/* One id per line; an id never holds blanks. */
		if (fields(line, f, 1) == 1)
			add(arg, f[0]);
	}
	free(out.p);
	return 0;
}

struct find_id {
	const char *id;
	int found;
};

static void match_id(void *arg, const char *id)
{
	struct find_id *f = arg;

	if (strcmp(f->id, id) == 0)
		f->found = 1;
}

int ctrd_container_exists(const struct ctrd *c, const char *id, int *exists, struct sk_err *err)
{
	struct find_id f = { id, 0 };

	if (ctrd_container_ids(c, match_id, &f, err) < 0)
		return -1;
	*exists = f.found;
	return 0;
}

/* A name ctr gets as an argument must not read as an option. */
static int plain_arg(const char *s)
{
	return *s && *s != '-' && !strpbrk(s, "\n\r");
}

int ctrd_container_info(const struct ctrd *c, const char *id, struct ctrd_container *out,
			struct sk_err *err)
{
	const char *args[] = { "containers", "info", id, NULL };
	struct buf b = { 0 };
	struct sk_err perr = { 0 };
	int rc;

	if (run_ctr(c, "ctr containers info", args, &b, err) < 0)
		return -1;
	rc = fcjson_ctr_container(b.p, b.len, out, &perr);
	free(b.p);
	if (rc < 0)
		return sk_err_set(err, SK_EFAIL,
				  "ctr containers info '%s': cannot parse its JSON output: %s", id,
				  perr.msg);
	if (!plain_arg(out->snapshot_key) || !plain_arg(out->snapshotter))
		return sk_err_set(err, SK_EFAIL,
				  "container '%s' has no usable snapshot (key '%s', snapshotter "
				  "'%s')",
				  id, out->snapshot_key, out->snapshotter);
	return 0;
}

int ctrd_snapshot_exists(const struct ctrd *c, const char *snapshotter, const char *key,
			 int *exists, struct sk_err *err)
{
	char sn[96];
	const char *args[5];
	struct buf b = { 0 };
	char *cur, *line;
	int n = 0;

	*exists = 0;
	args[n++] = "snapshots";
	if (snapshotter && *snapshotter) {
		snprintf(sn, sizeof(sn), "--snapshotter=%s", snapshotter);
		args[n++] = sn;
	}
	args[n++] = "list";
	args[n] = NULL;
	if (run_ctr(c, "ctr snapshots list", args, &b, err) < 0)
		return -1;
	/*
	 * "KEY PARENT KIND" with blanks for padding. Keys of containerd's own
	 * unpacking hold blanks, so only the first field is compared, and the
	 * last one is the kind.
	 */
	cur = b.p;
	while ((line = next_line(&cur)) != NULL) {
		char *f[4];
		int nf = fields(line, f, 3);

		if (nf >= 2 && nf <= 3 && strcmp(f[0], key) == 0 &&
		    strcmp(f[nf - 1], "Active") == 0)
			*exists = 1;
	}
	free(b.p);
	return 0;
}

/* Copy s into dst (size bytes); -1, copying nothing, when it does not fit. */
static int copy_field(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

/* What ctr is asked to print as the mount target: a fixed, blank-free path. */
#define MOUNTS_TARGET "/statekit-target"

int ctrd_snapshot_mount(const struct ctrd *c, const char *snapshotter, const char *key,
			struct ctrd_mount *m, struct sk_err *err)
{
	static const char head[] = "mount -t ";
	static const char mid[] = " " MOUNTS_TARGET " -o ";
	char sn[96];
	const char *args[6];
	struct buf b = { 0 };
	char *cur, *line, *type, *sp, *at;
	int lines = 0, ret = -1, n = 0;

	memset(m, 0, sizeof(*m));
	if (!plain_arg(key))
		return sk_err_set(err, SK_EFAIL, "unusable snapshot key '%s'", key);
	args[n++] = "snapshots";
	/* Without one, ctr's default (which $CONTAINERD_SNAPSHOTTER may change). */
	if (snapshotter && *snapshotter) {
		snprintf(sn, sizeof(sn), "--snapshotter=%s", snapshotter);
		args[n++] = sn;
	}
	args[n++] = "mounts";
	args[n++] = MOUNTS_TARGET;
	args[n++] = key;
	args[n] = NULL;
	if (run_ctr(c, "ctr snapshots mounts", args, &b, err) < 0)
		return -1;
	/*
	 * ctr prints each mount as a mount(8) command line,
	 * "mount -t TYPE SOURCE TARGET -o OPT,OPT,...", without quoting. The
	 * type never holds a blank and the target is ours, so the source is
	 * what lies between them and the options are the rest of the line,
	 * blanks and all.
	 */
	cur = b.p;
	while ((line = next_line(&cur)) != NULL) {
		if (!*line)
			continue;
		if (++lines > 1)
			continue;
		if (strncmp(line, head, sizeof(head) - 1) != 0)
			goto bad;
		type = line + sizeof(head) - 1;
		sp = strchr(type, ' ');
		if (!sp)
			goto bad;
		*sp = '\0';
		at = strstr(sp + 1, mid);
		if (!at)
			goto bad;
		*at = '\0';
		if (copy_field(m->type, sizeof(m->type), type) < 0 ||
		    copy_field(m->source, sizeof(m->source), sp + 1) < 0 ||
		    copy_field(m->options, sizeof(m->options), at + sizeof(mid) - 1) < 0)
			goto bad;
		if (!*m->type || !*m->source)
			goto bad;
	}
	if (lines == 0) {
		sk_err_set(err, SK_EFAIL, "snapshot '%s' has no mounts", key);
		goto out;
	}
	if (lines > 1) {
		sk_err_set(err, SK_EFAIL, "snapshot '%s' needs %d mounts; statekit handles one",
			   key, lines);
		goto out;
	}
	ret = 0;
	goto out;
bad:
	sk_err_set(err, SK_EFAIL, "ctr snapshots mounts '%s': unexpected output", key);
out:
	free(b.p);
	return ret;
}

static const char *const task_names[] = {
	[CTRD_TASK_NONE] = "none",	 [CTRD_TASK_CREATED] = "CREATED",
	[CTRD_TASK_RUNNING] = "RUNNING", [CTRD_TASK_STOPPED] = "STOPPED",
	[CTRD_TASK_PAUSED] = "PAUSED",	 [CTRD_TASK_PAUSING] = "PAUSING",
	[CTRD_TASK_UNKNOWN] = "UNKNOWN",
};

const char *ctrd_task_name(enum ctrd_task state)
{
	return task_names[state];
}

int ctrd_task_state(const struct ctrd *c, const char *id, enum ctrd_task *state, struct sk_err *err)
{
	const char *args[] = { "tasks", "list", NULL };
	struct buf b = { 0 };
	char *cur, *line;
	int ret = 0;

	*state = CTRD_TASK_NONE;
	if (run_ctr(c, "ctr tasks list", args, &b, err) < 0)
		return -1;
	/* "TASK PID STATUS", one task a line */
	cur = b.p;
	while ((line = next_line(&cur)) != NULL) {
		char *f[4];
		size_t i;

		if (fields(line, f, 3) != 3 || strcmp(f[0], id) != 0)
			continue;
		*state = CTRD_TASK_UNKNOWN;
		for (i = CTRD_TASK_CREATED; i < sizeof(task_names) / sizeof(task_names[0]); i++)
			if (strcmp(f[2], task_names[i]) == 0)
				*state = (enum ctrd_task)i;
		if (*state == CTRD_TASK_UNKNOWN && strcmp(f[2], "UNKNOWN") != 0)
			ret = sk_err_set(err, SK_EFAIL, "task '%s' has an unknown status '%s'", id,
					 f[2]);
	}
	free(b.p);
	return ret;
}

int ctrd_task_kill(const struct ctrd *c, const char *id, const char *signal, int all,
		   struct sk_err *err)
{
	char sig[48];
	const char *args[] = { "tasks", "kill", sig, all ? "--all" : id, all ? id : NULL, NULL };

	snprintf(sig, sizeof(sig), "--signal=%s", signal);
	return run_ctr(c, "ctr tasks kill", args, NULL, err);
}

int ctrd_task_delete(const struct ctrd *c, const char *id, struct sk_err *err)
{
	const char *args[] = { "tasks", "delete", id, NULL };

	return run_ctr(c, "ctr tasks delete", args, NULL, err);
}

int ctrd_task_start(const struct ctrd *c, const char *id, const char *log_uri, struct sk_err *err)
{
	char uri[PATH_MAX + 16];
	const char *args[] = { "tasks", "start", "--detach", uri, id, NULL };

	if (log_uri && *log_uri)
		snprintf(uri, sizeof(uri), "--log-uri=%s", log_uri);
	else
		snprintf(uri, sizeof(uri), "--null-io");
	return run_ctr(c, "ctr tasks start", args, NULL, err);
}
