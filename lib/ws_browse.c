/*
 * ws_browse.c: ws-preserve's readers of generations, which leave the bot
 * alone: --verify (each generation re-read as an import would read it, and
 * the outcome recorded in the index), --ls, --dump and --restore --target.
 * Every one checks the generation's sha256 before it uses a byte (rule 6).
 */
#include "ws.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "astream.h"
#include "codec.h"
#include "fsutil.h"
#include "log.h"
#include "sig.h"
#include "targuard.h"
#include "ws_int.h"
#include "banned.h"

/* The framing guard's limits, as import sets them: room for "./" and slashes. */
static void guard_limits(const struct sk_config *cfg, struct targuard_limits *glim)
{
	glim->max_path = (size_t)cfg->max_path + 16;
	glim->max_pax = 1 << 20;
}

/*
 * Open a generation (sha256 checked) and start reading it as an archive.
 * *fd and *r are for the caller to close and free, also on failure.
 */
static int open_reader(const struct sk_config *cfg, const struct backup_row *row,
		       struct progress *prog, int *fd, struct areader **r, struct sk_err *err)
{
	struct targuard_limits glim;

	*r = NULL;
	*fd = wsint_open_generation(cfg, row, prog, err);
	if (*fd < 0)
		return -1;
	guard_limits(cfg, &glim);
	if (areader_open(r, *fd, &glim, err) < 0)
		return sk_err_wrap(err, "generation %lld", (long long)row->generation);
	return 0;
}

/*
 * One generation, read whole without extracting: size and sha256 against
 * the index, then the codec's own checks, the tar framing and the import
 * policy (extract_check), and the entries and codec the index recorded.
 */
static int verify_generation(const struct sk_config *cfg, const struct backup_row *row,
			     struct progress *prog, uint64_t *entries, struct sk_err *err)
{
	struct extract_limits lim;
	struct extract_stats es = { 0 };
	struct areader *r = NULL;
	int fd, ret = -1;

	*entries = 0;
	wsint_limits(cfg, &lim);
	if (open_reader(cfg, row, prog, &fd, &r, err) < 0)
		goto out;
	if (extract_check(r, &lim, prog, &es, err) < 0) {
		sk_err_wrap(err, "generation %lld", (long long)row->generation);
		goto out;
	}
	*entries = es.entries;
	if (es.entries != row->entries)
		sk_err_set(err, SK_EDAMAGED,
			   "generation %lld holds %llu entries, the index says %llu",
			   (long long)row->generation, (unsigned long long)es.entries,
			   (unsigned long long)row->entries);
	else if (strcmp(codec_name(areader_codec(r)), row->codec) != 0)
		sk_err_set(err, SK_EDAMAGED, "generation %lld is %s, the index says %s",
			   (long long)row->generation, codec_name(areader_codec(r)), row->codec);
	else
		ret = 0;
out:
	areader_free(r);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The generations to verify: o->generation alone, else every one. */
static int verify_rows(struct wsint_ctx *c, const struct ws_opts *o, struct backup_row **rows,
		       size_t *n, struct sk_err *err)
{
	if (o->generation) {
		*rows = calloc(1, sizeof(**rows));
		if (!*rows)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		*n = 1;
		return idx_backup_get(c->ix, c->bot, o->generation, *rows, err);
	}
	if (idx_backup_list(c->ix, c->bot, rows, n, err) < 0)
		return -1;
	return *n ? 0 : sk_err_set(err, SK_ENOENT, "bot '%s' has no backup", c->bot);
}

/* "3, 5, 9" into buf: the generations that failed. */
static void list_bad(const struct backup_row *rows, const char *bad, size_t n, char *buf,
		     size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++)
		if (bad[i])
			used += (size_t)snprintf(buf + used, size - used, "%s%lld",
						 used ? ", " : "", (long long)rows[i].generation);
}

/*
 * Verify every generation in rows. A generation that could not be read for
 * a local reason (SK_EFAIL) is reported but not recorded: it was not judged.
 */
static int verify_all(struct wsint_ctx *c, const struct ws_opts *o, const struct backup_row *rows,
		      size_t n, ws_verified_fn done, void *arg, struct sk_err *err)
{
	struct progress prog;
	uint64_t total = 0;
	char *bad, list[256];
	size_t i, nbad = 0;
	int damaged = 0;

	bad = calloc(n ? n : 1, 1);
	if (!bad)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	for (i = 0; i < n; i++)
		total += 2 * rows[i].size; /* hashed, then read again */
	progress_start(&prog, o->progress, total);
	snprintf(prog.what, sizeof(prog.what), "verifying '%s'", c->bot);
	for (i = 0; i < n; i++) {
		struct sk_err e = SK_ERR_INIT;
		struct ws_verified v = { .generation = rows[i].generation };
		int rc = verify_generation(&c->cfg, &rows[i], &prog, &v.entries, &e);

		snprintf(v.bot, sizeof(v.bot), "%s", c->bot);
		if (rc == 0 || e.code == SK_EDAMAGED) {
			if (idx_backup_mark_verified(c->ix, c->bot, rows[i].generation,
						     (int64_t)time(NULL), rc == 0, err) < 0) {
				free(bad);
				progress_end(&prog, 0);
				return -1;
			}
		}
		if (rc < 0) {
			bad[i] = 1;
			nbad++;
			damaged |= e.code == SK_EDAMAGED;
			progress_end(&prog, 0);
			log_error("bot '%s': %s", c->bot, e.msg);
			v.err = &e;
		}
		done(arg, &v);
	}
	progress_end(&prog, nbad == 0);
	list_bad(rows, bad, n, list, sizeof(list));
	free(bad);
	if (!nbad)
		return 0;
	return sk_err_set(err, damaged ? SK_EDAMAGED : SK_EFAIL,
			  "%zu of %zu generation%s failed verification: %s", nbad, n,
			  n == 1 ? "" : "s", list);
}

int ws_verify(const struct ws_opts *o, ws_verified_fn done, void *arg, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	struct backup_row *rows = NULL;
	size_t n = 0;
	int ret = -1;

	/* Under the bot's lock: a prune must not take a file from under it. */
	if (wsint_open(&c, o, ws_repairs, err) < 0)
		return wsint_fail(err, "verify", o->bot);
	if (verify_rows(c, o, &rows, &n, err) == 0)
		ret = verify_all(c, o, rows, n, done, arg, err);
	if (ret == 0)
		log_info("bot '%s': %zu generation%s verified", c->bot, n, n == 1 ? "" : "s");
	free(rows);
	wsint_close(c);
	return ret < 0 ? wsint_fail(err, "verify", o->bot) : 0;
}

/* --target: a directory that is missing or empty. */
static int target_ok(const char *dir, struct sk_err *err)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR)
			return sk_err_set(err, SK_EUSAGE, "target '%s' is not a directory", dir);
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", dir);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			closedir(d);
			return sk_err_set(err, SK_EUSAGE,
					  "target '%s' is not empty (restore into a new or empty "
					  "directory)",
					  dir);
		}
	}
	closedir(d);
	return 0;
}

/*
 * The staging directory beside the target, by absolute name so that the
 * journal's repair finds it from anywhere: <parent>/.<name>.statekit-XXXXXX.
 */
static int make_target_stage(const char *target, char *stage, size_t size, struct sk_err *err)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], real[PATH_MAX];
	const char *base;
	size_t len = strlen(target);

	while (len > 1 && target[len - 1] == '/')
		len--;
	if (len >= sizeof(dir))
		return sk_err_set(err, SK_EUSAGE, "target '%s' is too long", target);
	memcpy(dir, target, len);
	dir[len] = '\0';
	base = strrchr(dir, '/');
	if (strlen(base ? base + 1 : dir) > NAME_MAX)
		return sk_err_set(err, SK_EUSAGE, "target '%s': name too long", target);
	memcpy(name, base ? base + 1 : dir, strlen(base ? base + 1 : dir) + 1);
	if (base == dir)
		dir[1] = '\0';
	else if (base)
		dir[base - dir] = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return sk_err_set(err, SK_EUSAGE, "target '%s' names no new directory", target);
	/* Like mkdir -p: /srv/restore/bot1 may be the first restore there. */
	if (!realpath(dir, real) &&
	    (errno != ENOENT || fs_mkdir_p(dir, 0755, err) < 0 || !realpath(dir, real)))
		return err->code ? -1
				 : sk_err_sys(err, errno == ENOTDIR ? SK_EUSAGE : SK_EFAIL, errno,
					      "cannot use the directory of target '%s'", target);
	if (fs_pathf(stage, size, err, "%s/.%s.statekit-XXXXXX", real, name) < 0)
		return -1;
	if (!mkdtemp(stage))
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create a directory beside '%s'",
				  target);
	return 0;
}

/* Extract the verified generation into stagefd and sync it. */
static int stage_generation(const struct sk_config *cfg, const struct backup_row *row, int stagefd,
			    int show_progress, struct ws_import_result *res, struct sk_err *err)
{
	struct extract_limits lim;
	struct extract_stats es = { 0 };
	struct areader *r = NULL;
	struct progress prog;
	int fd, ret = -1;

	wsint_limits(cfg, &lim);
	progress_start(&prog, show_progress, 2 * row->size);
	snprintf(prog.what, sizeof(prog.what), "restoring generation %lld",
		 (long long)row->generation);
	if (open_reader(cfg, row, &prog, &fd, &r, err) < 0 ||
	    extract_archive(r, stagefd, &lim, &prog, &es, err) < 0)
		goto out;
	res->entries = es.entries;
	res->bytes = es.bytes;
	res->codec = areader_codec(r);
	if (syncfs(stagefd) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "sync");
		goto out;
	}
	ret = 0;
out:
	progress_end(&prog, ret == 0);
	areader_free(r);
	if (fd >= 0)
		close(fd);
	return ret;
}

int wsint_restore_target(struct wsint_ctx *c, const struct backup_row *row, const struct ws_opts *o,
			 struct ws_import_result *res, struct sk_err *err)
{
	struct journal_row jr;
	char stage[PATH_MAX] = "";
	int stagefd = -1, ret = -1;

	memset(&jr, 0, sizeof(jr));
	if (target_ok(o->target, err) < 0 ||
	    make_target_stage(o->target, stage, sizeof(stage), err) < 0)
		return -1;
	/* A command killed from here on leaves the stage to the journal's repair. */
	if (wsint_begin(c, &jr, "target", "stage", stage, err) < 0)
		goto out;
	stagefd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (stagefd < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", stage);
		goto out;
	}
	if (stage_generation(&c->cfg, row, stagefd, o->progress, res, err) < 0)
		goto out;
	fault_point("target-staged");
	/* rename(2) takes the place of a missing name or of an empty directory. */
	if (rename(stage, o->target) < 0) {
		sk_err_sys(err, errno == ENOTEMPTY || errno == EEXIST ? SK_EUSAGE : SK_EFAIL, errno,
			   "cannot rename '%s' to '%s'", stage, o->target);
		goto out;
	}
	stage[0] = '\0';
	ret = fs_fsync_parent(o->target, err);
	if (ret == 0)
		log_info("restored generation %lld of bot '%s' into '%s' (%llu entries)",
			 (long long)row->generation, c->bot, o->target,
			 (unsigned long long)res->entries);
out:
	if (stagefd >= 0)
		close(stagefd);
	if (stage[0]) {
		struct sk_err e = SK_ERR_INIT;

		if (fs_rmtree(stage, &e) < 0)
			log_warn("%s", e.msg);
	}
	return wsint_resume(c, &jr, ret, WSINT_END_ROW, err);
}

/* "./a/b/" and "/a/b" as the archive names it: "a/b"; "" for the root. */
static void clean_arg(const char *in, char *out, size_t size)
{
	size_t n;

	while (in[0] == '.' && in[1] == '/')
		in += 2;
	while (*in == '/')
		in++;
	snprintf(out, size, "%s", strcmp(in, ".") == 0 ? "" : in);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
}

/* Is name path itself, or below it? */
static int under(const char *name, const char *path)
{
	size_t n = strlen(path);

	return !n || (strncmp(name, path, n) == 0 && (name[n] == '\0' || name[n] == '/'));
}

/* Open the bot, under its lock, and the generation o asks for. */
static int open_browse(struct wsint_ctx **c, const struct ws_opts *o, struct backup_row *row,
		       int *fd, struct areader **r, struct sk_err *err)
{
	*fd = -1;
	*r = NULL;
	if (wsint_open(c, o, ws_repairs, err) < 0 ||
	    idx_backup_get((*c)->ix, (*c)->bot, o->generation, row, err) < 0)
		return -1;
	return open_reader(&(*c)->cfg, row, NULL, fd, r, err);
}

static void close_browse(struct wsint_ctx *c, int fd, struct areader *r)
{
	areader_free(r);
	if (fd >= 0)
		close(fd);
	wsint_close(c);
}

static char type_letter(enum sk_type t)
{
	return t == SK_DIR ? 'd' : t == SK_SYMLINK ? 'l' : t == SK_HARDLINK ? 'h' : 'f';
}

int ws_ls(const struct ws_opts *o, const char *path, ws_entry_fn each, void *arg,
	  struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	struct backup_row row;
	struct areader *r = NULL;
	struct sk_entry e;
	char want[PATH_MAX], name[PATH_MAX];
	size_t found = 0;
	int fd = -1, rc = -1;

	clean_arg(path ? path : "", want, sizeof(want));
	if (open_browse(&c, o, &row, &fd, &r, err) < 0)
		goto out;
	while ((rc = areader_next(r, &e, err)) > 0) {
		struct ws_entry w = { .path = name, .type = type_letter(e.type) };

		clean_arg(e.path, name, sizeof(name));
		if (!*name || !under(name, want))
			continue;
		w.mode = (unsigned)(e.mode & 07777);
		w.uid = (unsigned)e.uid;
		w.gid = (unsigned)e.gid;
		w.mtime = (int64_t)e.mtime.tv_sec;
		w.size = e.type == SK_REG ? e.size : 0;
		w.link = e.type == SK_SYMLINK || e.type == SK_HARDLINK ? e.link : NULL;
		each(arg, &w);
		found++;
	}
	if (rc == 0 && *want && !found) {
		sk_err_set(err, SK_ENOENT, "generation %lld of bot '%s' has no '%s'",
			   (long long)row.generation, c->bot, want);
		rc = -1;
	}
out:
	close_browse(c, fd, r);
	return rc < 0 ? wsint_fail(err, "ls", o->bot) : 0;
}

/* The plain tar stream, as the decoder gives it (its checks included). */
static int dump_stream(int fd, int out_fd, struct sk_err *err)
{
	struct dec *d = NULL;
	const void *buf;
	size_t len;
	int rc;

	if (dec_open(&d, fd, err) < 0)
		return -1;
	while ((rc = dec_next(d, &buf, &len, err)) > 0) {
		if (fs_write_all(out_fd, buf, len) < 0) {
			rc = sk_err_sys(err, SK_EFAIL, errno, "cannot write to standard output");
			break;
		}
	}
	dec_free(d);
	return rc;
}

/* Write n zeros: the holes of a sparse file. */
static int write_zeros(int out_fd, uint64_t n, struct sk_err *err)
{
	static const char zeros[65536];

	while (n > 0) {
		size_t k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;

		if (fs_write_all(out_fd, zeros, k) < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot write to standard output");
		n -= k;
	}
	return 0;
}

/* The current entry's bytes, holes as zeros, to out_fd. */
static int dump_data(struct areader *r, uint64_t size, int out_fd, struct sk_err *err)
{
	const void *buf;
	size_t len;
	uint64_t off, at = 0;
	int rc;

	while ((rc = areader_data(r, &buf, &len, &off, err)) > 0) {
		if (off < at || off > size || len > size - off)
			return sk_err_set(err, SK_EDAMAGED, "file data out of place");
		if (write_zeros(out_fd, off - at, err) < 0)
			return -1;
		if (fs_write_all(out_fd, buf, len) < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot write to standard output");
		at = off + len;
	}
	return rc < 0 ? -1 : write_zeros(out_fd, size - at, err);
}

/*
 * Find want in the archive and write its bytes; the rest of the stream is
 * still read. A hard link has no bytes of its own: 1, with the name of the
 * file it links to in want (which the caller then dumps).
 */
static int dump_file(struct areader *r, char *want, size_t size, int out_fd, struct sk_err *err)
{
	char name[PATH_MAX];
	struct sk_entry e;
	int rc = 0, done = 0;

	while (!done && (rc = areader_next(r, &e, err)) > 0) {
		clean_arg(e.path, name, sizeof(name));
		if (strcmp(name, want) != 0)
			continue;
		if (e.type == SK_DIR)
			return sk_err_set(err, SK_EUSAGE,
					  "'%s' is a directory (--dump without a path writes the "
					  "whole generation as tar)",
					  want);
		if (e.type == SK_HARDLINK) {
			clean_arg(e.link, want, size);
			return 1;
		}
		if (e.type != SK_REG)
			return sk_err_set(err, SK_EUSAGE, "'%s' is a symbolic link to '%s'", want,
					  e.link);
		if (dump_data(r, e.size, out_fd, err) < 0)
			return -1;
		done = 1;
	}
	if (!done)
		return rc < 0 ? -1
			      : sk_err_set(err, SK_ENOENT, "no file '%s' in the generation", want);
	/* The rest too: a damaged end is still exit 5. */
	while ((rc = areader_next(r, &e, err)) > 0)
		;
	return rc;
}

int ws_dump(const struct ws_opts *o, const char *path, int out_fd, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	struct backup_row row;
	struct areader *r = NULL;
	char want[PATH_MAX];
	int fd = -1, rc = -1;

	if (!path) {
		if (wsint_open(&c, o, ws_repairs, err) == 0 &&
		    idx_backup_get(c->ix, c->bot, o->generation, &row, err) == 0 &&
		    (fd = wsint_open_generation(&c->cfg, &row, NULL, err)) >= 0)
			rc = dump_stream(fd, out_fd, err);
	} else {
		clean_arg(path, want, sizeof(want));
		if (!*want)
			sk_err_set(err, SK_EUSAGE,
				   "'%s' is the workspace itself (--dump without a path writes the "
				   "whole generation as tar)",
				   path);
		else if (open_browse(&c, o, &row, &fd, &r, err) == 0)
			rc = dump_file(r, want, sizeof(want), out_fd, err);
		/* A hard link: the file it names came earlier; read again for it. */
		if (rc == 1) {
			areader_free(r);
			close(fd);
			rc = open_reader(&c->cfg, &row, NULL, &fd, &r, err);
			if (rc == 0)
				rc = dump_file(r, want, sizeof(want), out_fd, err);
			if (rc == 1)
				rc = sk_err_set(err, SK_EDAMAGED, "a hard link to a hard link");
		}
	}
	close_browse(c, fd, r);
	return rc < 0 ? wsint_fail(err, "dump", o->bot) : 0;
}
