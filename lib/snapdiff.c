/*
 * snapdiff.c: may fcsnap-create take a Diff snapshot, and onto which base?
 *
 * Firecracker writes a Diff on top of an existing memory file of the exact
 * size, so a Diff written onto a copy of the right base is a complete memory
 * file the moment Firecracker answers. Which pages a Diff holds decides the
 * right base:
 *
 *   dirty-log  (track_dirty_pages on): the pages written since the last
 *              snapshot or load of this process. The base is the last
 *              snapshot statekit took of it, else what it started from.
 *   resident   (tracking off): every page mincore(2) finds resident. A page
 *              not resident still holds what the machine started from; but
 *              a page swapped out is not resident either, so with active
 *              swap this is unsafe.
 *
 * What a machine started from is read from the process itself: its guest
 * memory is anonymous (booted: every untouched page is zero, so the base is
 * an empty file), mapped from a file (restored with the File backend: the
 * base is that file, if statekit made it), or served by a userfaultfd
 * (Uffd: statekit cannot know). Anything statekit cannot vouch for is a
 * Full snapshot, with the reason.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fsutil.h"
#include "proc.h"
#include "snapint.h"
#include "banned.h"

static int full(struct snapdiff_plan *d, const char *fmt, ...) SK_PRINTF(2, 3);
static int full(struct snapdiff_plan *d, const char *fmt, ...)
{
	va_list ap;

	d->diff = 0;
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* Does the host swap? Any device or file listed in /proc/swaps is active. */
static int swap_active(void)
{
	char buf[512];
	int fd = open("/proc/swaps", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 1; /* cannot tell: assume it does */
	n = fs_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return 1;
	buf[n] = '\0';
	/* A header line, then one line per active swap area. */
	return strchr(buf, '\n') && strchr(buf, '\n')[1] != '\0';
}

/* Does the process hold a userfaultfd (the Uffd memory backend)? */
static int has_userfaultfd(pid_t pid)
{
	char dir[64], link[PATH_MAX + 80], target[128];
	struct dirent *de;
	DIR *d;
	int found = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while (!found && (de = readdir(d)) != NULL) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = strstr(target, "userfaultfd") != NULL;
	}
	closedir(d);
	return found;
}

/*
 * The file that backs the guest's memory: the file mapped in the process
 * whose mappings add up to at least half the guest's memory (x86 splits
 * more than 3 GiB of guest memory into two regions of one file). 1 with its
 * device, inode and the path the maps show, 0 when there is none (anonymous
 * memory), -1 when the maps cannot be read.
 */
static int memory_file(pid_t pid, uint64_t mem_bytes, dev_t *dev, ino_t *ino, char *out,
		       size_t osize)
{
	char path[64], line[PATH_MAX + 128];
	struct {
		unsigned maj, min;
		unsigned long ino;
		uint64_t len;
		char path[160];
	} seen[16];
	int nseen = 0, i, found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		unsigned maj, min;
		unsigned long inode;
		char perms[8];

		int at = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %lu %n", &start, &end, perms, &off, &maj,
			   &min, &inode, &at) != 7 ||
		    inode == 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (i = 0; i < nseen; i++)
			if (seen[i].maj == maj && seen[i].min == min && seen[i].ino == inode)
				break;
		if (i == nseen) {
			if (nseen == 16)
				continue;
			seen[i].maj = maj;
			seen[i].min = min;
			seen[i].ino = inode;
			seen[i].len = 0;
			snprintf(seen[i].path, sizeof(seen[i].path), "%s", line + at);
			nseen++;
		}
		seen[i].len += end - start;
	}
	fclose(f);
	for (i = 0; i < nseen && !found; i++) {
		if (seen[i].len < mem_bytes / 2)
			continue;
		*dev = makedev(seen[i].maj, seen[i].min);
		*ino = (ino_t)seen[i].ino;
		snprintf(out, osize, "%s", seen[i].path);
		found = 1;
	}
	return found;
}

static int same_file(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	return path[0] && stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/*
 * What the machine started from: 0 with *origin set ("" for an empty file)
 * and origin_path (the file to copy, "" for an empty one), or 1 when
 * statekit cannot know (d->why says why).
 */
static int find_origin(struct sctx *c, const char *machine, pid_t pid, uint64_t mem_bytes,
		       struct snapdiff_plan *d, char *origin, char *origin_path)
{
	struct sk_err e = SK_ERR_INIT;
	struct machine_row m;
	char mapped[PATH_MAX], own[PATH_MAX], snapmem[PATH_MAX];
	dev_t dev = 0;
	ino_t ino = 0;
	int rc;

	origin[0] = origin_path[0] = '\0';
	if (has_userfaultfd(pid) != 0) {
		full(d, "%s",
		     "its memory is served by a page-fault handler (Uffd), whose content "
		     "statekit cannot know");
		return 1;
	}
	rc = memory_file(pid, mem_bytes, &dev, &ino, mapped, sizeof(mapped));
	if (rc < 0) {
		full(d, "cannot read the memory map of machine '%s'", machine);
		return 1;
	}
	if (rc == 0)
		return 0; /* booted: anonymous memory, untouched pages are zero */
	if (idx_machine_get(c->ix, machine, &m, &e) == 0 && m.pid == (long)pid &&
	    proc_alive(pid, m.pid_start) &&
	    fs_pathf(own, sizeof(own), &e, "%s/statekit-memory", m.root) == 0 &&
	    fs_pathf(snapmem, sizeof(snapmem), &e, "%s/%s/memory", c->snaps, m.snapshot) == 0 &&
	    (same_file(own, dev, ino) || same_file(snapmem, dev, ino))) {
		snprintf(origin, 72, "%s", m.snapshot);
		memcpy(origin_path, same_file(snapmem, dev, ino) ? snapmem : own, PATH_MAX);
		d->tracking = m.tracking; /* fcsnap-restore loaded it with dirty tracking */
		return 0;
	}
	full(d, "its memory is mapped from a file statekit did not lay out: %.160s", mapped);
	return 1;
}

/*
 * The last snapshot statekit asked this process for (index.h), whose memory
 * file must still be there: 0 with *id "" when there was none, 1 when the
 * dirty log cannot be trusted (d->why says why).
 */
static int last_snapshot(struct sctx *c, pid_t pid, struct snapdiff_plan *d)
{
	struct sk_err e = SK_ERR_INIT;
	int done = 0;

	if (idx_vmm_snapshot_last(c->ix, (long)pid, proc_start_time(pid), d->base, sizeof(d->base),
				  &done, &e) < 0) {
		full(d, "%s", e.msg);
		return 1;
	}
	if (!d->base[0])
		return 0;
	if (done < 0) {
		full(d, "snapshot '%s', the last of this process, was deleted", d->base);
		return 1;
	}
	if (!done) {
		full(d,
		     "an earlier snapshot of this process ('%s') did not complete, so its dirty "
		     "page log no longer starts at a snapshot statekit has",
		     d->base);
		return 1;
	}
	if (fs_pathf(d->base_path, sizeof(d->base_path), &e, "%s/%s/memory", c->snaps, d->base) <
		0 ||
	    !fs_exists(d->base_path)) {
		full(d, "the memory file of snapshot '%s', the last of this process, is gone",
		     d->base);
		return 1;
	}
	return 0;
}

static int version_at_least(const char *v, int major, int minor)
{
	int a = 0, b = 0;

	if (sscanf(v, "%d.%d", &a, &b) != 2)
		return 0;
	return a > major || (a == major && b >= minor);
}

int snapdiff_choose(struct sctx *c, const char *machine, pid_t pid, const char *vmm_version,
		    const struct fc_vmconfig *vc, struct snapdiff_plan *d)
{
	char origin[72], origin_path[PATH_MAX];

	memset(d, 0, sizeof(*d));
	d->mem_bytes = (uint64_t)vc->mem_mib << 20;
	if (!strcmp(c->cfg.fc_snapshot, "full"))
		return full(d, "%s", "[firecracker] snapshot = full");
	if (pid <= 0)
		return full(d, "%s", "the Firecracker process cannot be found");
	if (!version_at_least(vmm_version, 1, 13))
		return full(d, "Firecracker %s is older than 1.13", vmm_version);
	if (find_origin(c, machine, pid, d->mem_bytes, d, origin, origin_path))
		return 0;
	d->diff = 1;
	if (vc->track_dirty || d->tracking) {
		snprintf(d->pages, sizeof(d->pages), "dirty-log");
		if (last_snapshot(c, pid, d))
			return 0;
		if (d->base[0])
			return 0;
	} else if (swap_active()) {
		return full(d, "%s",
			    "the host has active swap and dirty page tracking is off: the "
			    "resident pages would miss any swapped out");
	} else {
		snprintf(d->pages, sizeof(d->pages), "resident");
	}
	snprintf(d->base, sizeof(d->base), "%s", origin);
	snprintf(d->base_path, sizeof(d->base_path), "%s", origin_path);
	return 0;
}
