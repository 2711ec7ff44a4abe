/*
 * ws_export.c: ws-export: stop the bot, write its workspace as an archive to
 * stdout or to -o (through a temporary file renamed over it when complete),
 * start the bot again. Also the archive writer that ws-preserve shares.
 */
#include "ws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astream.h"
#include "fsutil.h"
#include "log.h"
#include "sig.h"
#include "ws_int.h"
#include "banned.h"

int wsint_write_archive(const struct sk_config *cfg, int rootfd, int out_fd,
			const struct wsint_codec *cs, int show_progress,
			struct wsint_export_res *res, struct sk_err *err)
{
	struct extract_limits lim;
	struct enc *enc = NULL;
	struct awriter *w = NULL;
	struct progress prog;
	int ret = -1;

	progress_start(&prog, show_progress, 0);
	if (prog.on)
		progress_set_total(&prog, tree_size(rootfd));
	if (enc_open(&enc, out_fd, cs->codec, cs->level, cs->threads, err) < 0)
		goto out;
	if (awriter_open(&w, enc, err) < 0)
		goto out;
	wsint_limits(cfg, &lim);
	if (tree_export(rootfd, w, &lim, &prog, &res->ts, err) < 0)
		goto out;
	if (awriter_finish(w, err) < 0 || enc_finish(enc, err) < 0)
		goto out;
	res->out_bytes = enc_bytes_out(enc);
	progress_end(&prog, 1);
	ret = 0;
out:
	progress_end(&prog, 0);
	awriter_free(w);
	enc_free(enc);
	return ret;
}

/*
 * The -o file: a temporary file next to it, renamed over it when complete
 * (its name goes to tmp). A device or a FIFO that is already there, such
 * as /dev/null, is written in place instead (tmp stays empty): a rename
 * would put a regular file where the device was.
 */
static int open_output(const char *path, char *tmp, size_t size, struct sk_err *err)
{
	struct stat st;
	int fd;

	tmp[0] = '\0';
	if (stat(path, &st) < 0 || S_ISREG(st.st_mode))
		return fs_tmpfile_near(path, tmp, size, err);
	if (S_ISDIR(st.st_mode))
		return sk_err_set(err, SK_EUSAGE, "'%s' is a directory", path);
	fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", path);
	if (isatty(fd)) {
		close(fd);
		return sk_err_set(err, SK_EUSAGE,
				  "refusing to write an archive to a terminal ('%s')", path);
	}
	return fd;
}

static void log_exported(const struct wsint_ctx *c, const struct wsint_export_res *res,
			 enum codec codec, double t0)
{
	char b[32], ob[32];

	log_info("exported bot '%s': %llu entries, %s (%s %s) in %.1f s", c->bot,
		 (unsigned long long)res->ts.entries, log_bytes(res->ts.bytes, b, sizeof(b)),
		 log_bytes(res->out_bytes, ob, sizeof(ob)), codec_name(codec), log_now() - t0);
}

int ws_export(const struct ws_opts *o, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	struct journal_row jr = { 0 };
	struct wsint_export_res res = { 0 };
	struct wsint_codec cs;
	char tmp[PATH_MAX] = "";
	int out_fd = STDOUT_FILENO, rootfd = -1, ret = -1;
	double t0 = log_now();

	if (!o->output && isatty(STDOUT_FILENO))
		return sk_err_set(err, SK_EUSAGE,
				  "refusing to write an archive to a terminal (use -o FILE or a "
				  "pipe)");
	if (wsint_open(&c, o, ws_repairs, err) < 0)
		return wsint_fail(err, "export", o->bot);
	if (wsint_resolve_codec(c, o, &cs, err) < 0 || c->be->ops->probe(c->be, err) < 0)
		goto out;
	/* An offline workspace is reached only once the bot is stopped. */
	if (!c->be->offline && (rootfd = wsint_open_root(c, err)) < 0)
		goto out;
	if (o->output && (out_fd = open_output(o->output, tmp, sizeof(tmp), err)) < 0)
		goto out;
	if (wsint_begin(c, &jr, "export", "export", tmp, err) < 0 || wsint_quiesce(c, &jr, err) < 0)
		goto out;
	fault_point("export-stopped");
	if (c->be->offline) {
		if ((rootfd = wsint_open_root(c, err)) < 0)
			goto out;
		fault_point("export-mounted");
	}
	if (wsint_write_archive(&c->cfg, rootfd, out_fd, &cs, o->progress, &res, err) < 0)
		goto out;
	if (tmp[0] && fs_commit_tmp(out_fd, tmp, o->output, err) < 0)
		goto out;
	tmp[0] = '\0';
	ret = 0;
out:
	if (rootfd >= 0)
		close(rootfd);
	if (tmp[0])
		unlink(tmp);
	ret = wsint_resume(c, &jr, ret, WSINT_END_ROW, err);
	if (out_fd >= 0 && out_fd != STDOUT_FILENO)
		close(out_fd);
	if (ret == 0)
		log_exported(c, &res, cs.codec, t0);
	else
		wsint_fail(err, "export", o->bot);
	wsint_close(c);
	return ret;
}
