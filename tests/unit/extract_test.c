/*
 * extract_test: the two path checks import and export rest on.
 * extract_clean_path against every spelling of a name an archive can carry;
 * extract_link_inside against real directory trees built in a temp dir
 * (chains, ".." through links, loops, long targets), its verdict compared
 * with the kernel's own (openat2 RESOLVE_BENEATH) wherever the target exists.
 */
#include "extract.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char tmpdir[PATH_MAX - 64];

static void die(const char *what)
{
	fprintf(stderr, "extract_test: %s: %s\n", what, strerror(errno));
	exit(99);
}

/* ---- extract_clean_path ---- */

static const struct extract_limits lim = {
	.max_entries = 1000,
	.max_bytes = 1 << 20,
	.max_path = 4096,
	.max_depth = 256,
};

/* Clean name with lim2 (or lim) into a PATH_MAX buffer; 0 or the error code. */
static int clean(const char *name, const struct extract_limits *lim2, char *out, size_t *depth,
		 char *msg)
{
	struct sk_err err = SK_ERR_INIT;
	char buf[PATH_MAX];

	*depth = 12345;
	memcpy(out, "untouched", sizeof("untouched"));
	if (extract_clean_path(name, lim2 ? lim2 : &lim, buf, sizeof(buf), depth, &err) < 0) {
		if (msg)
			snprintf(msg, sizeof(err.msg), "%s", err.msg);
		return err.code;
	}
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

static void clean_ok(const char *name, const char *want, size_t want_depth)
{
	char out[PATH_MAX];
	size_t d;
	int rc = clean(name, NULL, out, &d, NULL);

	ok(rc == 0 && strcmp(out, want) == 0 && d == want_depth,
	   "clean '%s' -> '%s' depth %zu (got rc %d, '%s', %zu)", name, want, want_depth, rc, out,
	   d);
}

static void clean_bad(const char *label, const char *name, const char *want_msg)
{
	char out[PATH_MAX], msg[512] = "";
	size_t d;
	int rc = clean(name, NULL, out, &d, msg);

	ok(rc == SK_EDAMAGED && strstr(msg, want_msg), "clean refuses %s: '%s' (rc %d, '%s')",
	   label, want_msg, rc, msg);
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
	size_t ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(ul * times + tl + 1);

	if (!s)
		die("malloc");
	for (i = 0; i < times; i++)
		memcpy(s + i * ul, unit, ul);
	memcpy(s + ul * times, tail, tl + 1);
	return s;
}

static void test_clean_path(void)
{
	struct extract_limits small = lim;
	char out[PATH_MAX], msg[512], *s;
	size_t d;
	int rc;

	clean_ok("a", "a", 1);
	clean_ok("a/b/c", "a/b/c", 3);
	clean_ok("./a", "a", 1);
	clean_ok("a/", "a", 1);
	clean_ok("a//b///c/", "a/b/c", 3);
	clean_ok("./a/./b/.", "a/b", 2);
	clean_ok(".", "", 0);
	clean_ok("./", "", 0);
	clean_ok(".//./", "", 0);
	/* Names that merely look like dots are names. */
	clean_ok("...", "...", 1);
	clean_ok("..a/a..", "..a/a..", 2);
	clean_ok(".hidden", ".hidden", 1);
	clean_ok("caf\xc3\xa9/\xff\xfe", "caf\xc3\xa9/\xff\xfe", 2);
	clean_ok("a b/\tc", "a b/\tc", 2);

	clean_bad("an empty name", "", "empty name");
	rc = extract_clean_path(NULL, &lim, out, sizeof(out), &d, &(struct sk_err)SK_ERR_INIT);
	ok(rc == -1, "clean refuses a NULL name");
	clean_bad("an absolute name", "/etc/passwd", "absolute name '/etc/passwd'");
	clean_bad("a name with two leading slashes", "//etc", "absolute name");
	clean_bad("'..' alone", "..", "contains '..'");
	clean_bad("'..' in the middle", "a/../b", "contains '..'");
	clean_bad("'..' that stays inside", "a/b/../c", "contains '..'");
	clean_bad("'..' at the end", "a/..", "contains '..'");
	clean_bad("'..' after './'", "./../x", "contains '..'");
	clean_bad("'..' with a trailing slash", "../", "contains '..'");

	/* NAME_MAX: 255 bytes in a component pass, 256 do not. */
	s = repeat("x", 255, "");
	rc = clean(s, NULL, out, &d, NULL);
	ok(rc == 0 && strlen(out) == 255 && d == 1, "clean keeps a 255-byte component");
	free(s);
	s = repeat("x", 256, "");
	clean_bad("a 256-byte component", s, "component over 255 bytes");
	free(s);

	/* max_path counts the cleaned name, not its spelling. */
	small.max_path = 10;
	rc = clean("abcd/efghi", &small, out, &d, NULL);
	ok(rc == 0 && strcmp(out, "abcd/efghi") == 0, "clean: a name of exactly max_path passes");
	msg[0] = '\0';
	rc = clean("abcd/efghij", &small, out, &d, msg);
	ok(rc == SK_EDAMAGED && strstr(msg, "longer than 10 bytes (max_path)"),
	   "clean: max_path + 1 is refused (%s)", msg);
	rc = clean("./././././abcd//////efghi/", &small, out, &d, NULL);
	ok(rc == 0 && strcmp(out, "abcd/efghi") == 0,
	   "clean: './' and '//' do not count against max_path");

	/* max_depth counts components after cleaning. */
	small = lim;
	small.max_depth = 3;
	rc = clean("a/b/c", &small, out, &d, NULL);
	ok(rc == 0 && d == 3, "clean: a name exactly max_depth deep passes");
	rc = clean("a/./b//c/.", &small, out, &d, NULL);
	ok(rc == 0 && d == 3, "clean: '.' and empty components are not levels");
	msg[0] = '\0';
	rc = clean("a/b/c/d", &small, out, &d, msg);
	ok(rc == SK_EDAMAGED && strstr(msg, "deeper than 3 levels (max_depth)"),
	   "clean: max_depth + 1 is refused (%s)", msg);

	/*
	 * A name longer than the caller's buffer is refused, never cut, and
	 * the message names the limit that was really crossed.
	 */
	{
		struct sk_err err = SK_ERR_INIT;
		struct extract_limits tight = lim;
		char tiny[8];

		rc = extract_clean_path("abc/defghij", &lim, tiny, sizeof(tiny), &d, &err);
		ok(rc == -1 && err.code == SK_EDAMAGED &&
		       strcmp(err.msg, "name longer than 7 bytes (the system's limit)") == 0,
		   "clean refuses a name longer than its buffer (%s)", err.msg);
		tight.max_path = 5;
		rc = extract_clean_path("abc/defghij", &tight, tiny, sizeof(tiny), &d, &err);
		ok(rc == -1 && strstr(err.msg, "longer than 5 bytes (max_path)"),
		   "clean names max_path when that is the smaller limit (%s)", err.msg);
		rc = extract_clean_path("abc/def", &lim, tiny, sizeof(tiny), &d, &err);
		ok(rc == 0 && strcmp(tiny, "abc/def") == 0,
		   "clean fills a buffer exactly (7 bytes and the NUL in 8)");
		rc = extract_clean_path("abcdefg", &lim, tiny, sizeof(tiny), &d, &err);
		ok(rc == 0 && strcmp(tiny, "abcdefg") == 0,
		   "clean fills a buffer exactly with one component (%s)", rc ? err.msg : "");
	}
	/* max_path past PATH_MAX: 5,000 bytes are refused by the system limit. */
	{
		struct extract_limits big = lim;

		big.max_path = 8192;
		big.max_depth = 1000;
		s = repeat("abcdefghi/", 500, "");
		msg[0] = '\0';
		rc = clean(s, &big, out, &d, msg);
		ok(rc == SK_EDAMAGED && strstr(msg, "longer than 4095 bytes (the system's limit)"),
		   "clean: a max_path of 8192 does not claim a 5,000-byte name passed it (%s)",
		   msg);
		free(s);
	}

	/* 2,000 components of "./" and a real name: only the name counts. */
	s = repeat("./", 2000, "z");
	clean_ok(s, "z", 1);
	free(s);
	/* 257 one-letter levels with the default max_depth of 256. */
	s = repeat("a/", 256, "a");
	clean_bad("257 levels", s, "deeper than 256 levels");
	free(s);
}

/* ---- extract_link_inside ---- */

static int root_fd = -1;
static char root_path[PATH_MAX];
static int have_openat2 = 1;

/* A fresh, empty tree at <tmpdir>/root<n>; the previous one is removed. */
static void new_root(void)
{
	static int n;
	char cmd[PATH_MAX + 32];

	if (root_fd >= 0) {
		close(root_fd);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root_path);
		if (system(cmd) != 0)
			die("rm -rf");
	}
	snprintf(root_path, sizeof(root_path), "%s/root%d", tmpdir, ++n);
	if (mkdir(root_path, 0755) < 0)
		die(root_path);
	root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die(root_path);
}

/*
 * Build the tree from a spec: "d PATH" makes directories (like mkdir -p),
 * "f PATH" an empty file, "l PATH TARGET" a symlink.
 */
static void build(const char *const *spec)
{
	for (; *spec; spec++) {
		char buf[8192], *arg, *arg2, *p;

		snprintf(buf, sizeof(buf), "%s", *spec);
		arg = buf + 2;
		if (buf[0] == 'd') {
			for (p = arg;; p++) {
				char c = *p;

				if (c == '/' || c == '\0') {
					*p = '\0';
					if (mkdirat(root_fd, arg, 0755) < 0 && errno != EEXIST)
						die(arg);
					*p = c;
				}
				if (!c)
					break;
			}
		} else if (buf[0] == 'f') {
			int fd =
			    openat(root_fd, arg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

			if (fd < 0)
				die(arg);
			close(fd);
		} else if (buf[0] == 'l') {
			arg2 = strchr(arg, ' ');
			if (!arg2)
				die("bad spec");
			*arg2++ = '\0';
			if (symlinkat(arg2, root_fd, arg) < 0)
				die(arg);
		}
	}
}

/*
 * The kernel's verdict on the link at lpath: 1 it resolves beneath the
 * root, 0 it escapes, EXTRACT_LINK_LOOP it loops (ELOOP), -1 the kernel
 * cannot tell (a missing component, or no openat2).
 */
static int kernel_verdict(const char *lpath)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };
	int fd;

	if (!have_openat2)
		return -1;
	/*
	 * With RESOLVE_BENEATH and a '..', the kernel gives EAGAIN when any
	 * rename or mount happened anywhere on the system meanwhile: on a busy
	 * machine (another test suite running) ask again.
	 */
	for (int tries = 0; tries < 1000; tries++) {
		fd = (int)syscall(SYS_openat2, root_fd, lpath, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == EXDEV)
		return 0;
	if (errno == ELOOP)
		return EXTRACT_LINK_LOOP;
	if (errno == ENOSYS || errno == EPERM)
		have_openat2 = 0;
	return -1;
}

/*
 * A target with the tree's own names in it: @ROOT@ is the root's absolute
 * path, @NAME@ its last component, @TMP@ the last component of its parent.
 */
static char *expand(const char *tmpl)
{
	const char *name = strrchr(root_path, '/') + 1, *tmp = strrchr(tmpdir, '/') + 1;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		die("open_memstream");
	while (*tmpl) {
		if (strncmp(tmpl, "@ROOT@", 6) == 0) {
			fputs(root_path, f);
			tmpl += 6;
		} else if (strncmp(tmpl, "@NAME@", 6) == 0) {
			fputs(name, f);
			tmpl += 6;
		} else if (strncmp(tmpl, "@TMP@", 5) == 0) {
			fputs(tmp, f);
			tmpl += 5;
		} else {
			fputc(*tmpl++, f);
		}
	}
	if (fclose(f) != 0)
		die("open_memstream");
	return out;
}

enum { EXISTS = 1 }; /* every component exists: the kernel must agree */

/*
 * Build spec in a fresh root, put the symlink lpath -> target into it (its
 * directory must exist), and check extract_link_inside says want.
 */
static void link_case(const char *label, const char *const *spec, const char *lpath,
		      const char *tmpl, int want, int flags)
{
	char *target;
	int got, k;

	new_root();
	target = expand(tmpl);
	build(spec);
	/* The kernel keeps no link with an empty target; check it anyway. */
	if (*target && symlinkat(target, root_fd, lpath) < 0)
		die(lpath);
	got = extract_link_inside(root_fd, lpath, target);
	ok(got == want, "link_inside: %s: '%.40s' -> '%.60s%s' is %s (got %d)", label, lpath,
	   target, strlen(target) > 60 ? "..." : "",
	   want == 1   ? "inside"
	   : want == 0 ? "outside"
		       : "a loop",
	   got);
	if (flags & EXISTS) {
		k = kernel_verdict(lpath);
		ok(k == -1 ? !have_openat2 : k == want,
		   "link_inside: %s: the kernel agrees (openat2 says %d)", label, k);
	}
	free(target);
}

#define SPEC(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOSPEC ((const char *const[]){ NULL })

static void test_link_basic(void)
{
	link_case("a sibling directory", SPEC("d a"), "l", "a", 1, EXISTS);
	link_case("the root itself", NOSPEC, "l", ".", 1, EXISTS);
	link_case("'..' from the root", NOSPEC, "l", "..", 0, EXISTS);
	link_case("'..' from one level down", SPEC("d a"), "a/l", "..", 1, EXISTS);
	link_case("'../..' from one level down", SPEC("d a"), "a/l", "../..", 0, EXISTS);
	link_case("down and up again", SPEC("d a/b"), "l", "a/b/../..", 1, EXISTS);
	link_case("down and one up too many", SPEC("d a/b"), "l", "a/b/../../..", 0, EXISTS);
	link_case("an empty target", NOSPEC, "l", "", 0, 0);
	link_case("an absolute target outside", NOSPEC, "l", "/etc", 0, EXISTS);
	link_case("a missing name", NOSPEC, "l", "nothing/here", 1, 0);
	link_case("'..' past a missing name", NOSPEC, "l", "nothing/../..", 0, 0);
	link_case("'..' back over a missing name", SPEC("d a"), "a/l", "nothing/../../x", 1, 0);
	link_case("through a regular file", SPEC("f f"), "l", "f/../..", 0, 0);
	link_case("through a regular file and back", SPEC("f f"), "l", "f/../f", 1, 0);
	link_case("empty components", SPEC("d a/b"), "l", "a//b///", 1, EXISTS);
	link_case("'.' components", SPEC("d a/b"), "l", "./a/./b/.", 1, EXISTS);
	link_case("'.' and '//' hiding a '..'", SPEC("d a"), "a/l", ".//.././/..//.", 0, EXISTS);
	link_case("a deep link climbing to the root", SPEC("d a/b/c/d"), "a/b/c/d/l", "../../../..",
		  1, EXISTS);
	link_case("a deep link climbing one too far", SPEC("d a/b/c/d"), "a/b/c/d/l",
		  "../../../../..", 0, EXISTS);
}

static void test_link_absolute(void)
{
	/* Even the tree's own absolute name: the tree will live elsewhere. */
	link_case("an absolute target naming the tree itself", SPEC("d a"), "l", "@ROOT@/a", 0,
		  EXISTS);
	link_case("a link to a link with an absolute target", SPEC("l abs /tmp"), "l", "abs", 0,
		  EXISTS);
	link_case("'/' alone", NOSPEC, "l", "/", 0, EXISTS);
}

static void test_link_leave_and_return(void)
{
	/* The same place, by a way that passes outside the tree. */
	link_case("a target that leaves the tree and comes back", SPEC("d a"), "l", "../@NAME@/a",
		  0, EXISTS);
	link_case("one that leaves two levels and comes back", SPEC("d d/a"), "d/l",
		  "../../@TMP@/@NAME@/d/a", 0, EXISTS);
	link_case("a link that leaves and comes back, reached by a chain",
		  SPEC("d a", "l out ../@NAME@"), "l", "out/a", 0, EXISTS);
}

static void test_link_chains(void)
{
	link_case("a chain of three ending in a directory",
		  SPEC("d a", "l l3 a", "l l2 l3", "l l1 l2"), "l", "l1", 1, EXISTS);
	link_case("a chain whose last link climbs out", SPEC("l l3 ..", "l l2 l3", "l l1 l2"), "l",
		  "l1", 0, EXISTS);
	link_case("a chain whose last link is absolute", SPEC("l l3 /", "l l2 l3", "l l1 l2"), "l",
		  "l1", 0, EXISTS);
	/* The chain the lexical check alone misses: cur -> ., par -> cur/.. */
	link_case("cur -> ., then cur/..", SPEC("l cur ."), "l", "cur/..", 0, EXISTS);
	link_case("cur -> ., par -> cur/.., then par", SPEC("l cur .", "l par cur/.."), "l", "par",
		  0, EXISTS);
	link_case("par reached through a deeper directory", SPEC("d a", "l cur .", "l par cur/.."),
		  "a/l", "../par", 0, EXISTS);
	link_case("cur/cur/cur/.. is the root's parent", SPEC("l cur ."), "l", "cur/cur/cur/..", 0,
		  EXISTS);
	link_case("a link to a link in another directory", SPEC("d a/b", "d x", "l x/to_b ../a/b"),
		  "l", "x/to_b/..", 1, EXISTS);
	link_case("a link to a link, then up past the root",
		  SPEC("d a/b", "d x", "l x/to_b ../a/b"), "l", "x/to_b/../../..", 0, EXISTS);
	link_case("a link to a symlinked file", SPEC("f f", "l lf f"), "l", "lf", 1, EXISTS);
}

static void test_link_dotdot_through_links(void)
{
	/* s -> a/b/c: "s/.." is a/b, not the root, as the kernel sees it. */
	link_case("'..' after a link goes above its target", SPEC("d a/b/c", "l s a/b/c"), "l",
		  "s/../../..", 1, EXISTS);
	link_case("'..' after a link, one too many", SPEC("d a/b/c", "l s a/b/c"), "l",
		  "s/../../../..", 0, EXISTS);
	link_case("up -> .. inside a subdirectory, walked twice", SPEC("d a", "l a/up .."), "l",
		  "a/up/a/up/a", 1, EXISTS);
	link_case("up -> .. inside a subdirectory, then out", SPEC("d a", "l a/up .."), "l",
		  "a/up/a/up/..", 0, EXISTS);
	link_case("a deep link to a shallow one that climbs",
		  SPEC("d a/b/c", "l top ..", "l a/b/c/t ../../../top"), "l", "a/b/c/t", 0, EXISTS);
	link_case("a shallow link to a deep one that climbs back",
		  SPEC("d a/b/c", "l a/b/c/t ../../.."), "l", "a/b/c/t/a", 1, EXISTS);
	link_case("a missing name, then the climbing chain", SPEC("l cur ."), "l", "gone/../cur/..",
		  0, 0);
}

static void test_link_loops_and_hops(void)
{
	char name[32], tgt[32];
	const char *spec[64];
	char bufs[64][80];
	int i;

	link_case("a link to itself", SPEC("l self self"), "l", "self", EXTRACT_LINK_LOOP, EXISTS);
	link_case("two links that point at each other", SPEC("l p q", "l q p"), "l", "p",
		  EXTRACT_LINK_LOOP, EXISTS);
	link_case("the test link itself in the loop", NOSPEC, "l", "l", EXTRACT_LINK_LOOP, EXISTS);

	/*
	 * A chain c1 -> c2 -> ... -> cN -> d. The resolver expands at most
	 * 40 of the tree's links (MAX_LINK_HOPS): N = 40 is inside, 41 is
	 * a loop. (The kernel counts the link it starts from too, so at N = 40
	 * it says ELOOP where the resolver says inside: the kernel then refuses
	 * to follow what the resolver accepted, which is the safe way round.)
	 */
	for (int n = 39; n <= 41; n++) {
		int k = 0;

		snprintf(bufs[k], sizeof(bufs[k]), "d d");
		spec[k] = bufs[k];
		k++;
		for (i = 1; i <= n; i++) {
			snprintf(name, sizeof(name), "c%d", i);
			if (i == n)
				snprintf(tgt, sizeof(tgt), "d");
			else
				snprintf(tgt, sizeof(tgt), "c%d", i + 1);
			snprintf(bufs[k], sizeof(bufs[k]), "l %s %s", name, tgt);
			spec[k] = bufs[k];
			k++;
		}
		spec[k] = NULL;
		snprintf(name, sizeof(name), "a chain of %d links", n);
		link_case(name, spec, "l", "c1", n <= 40 ? 1 : EXTRACT_LINK_LOOP,
			  n == 39 ? EXISTS : 0);
	}
	/* Every "a" of a/a/a/... is a link: each one is a hop. */
	{
		char *t = repeat("a/", 40, "x");

		link_case("40 hops through a -> .", SPEC("l a ."), "l", t, 1, 0);
		free(t);
		t = repeat("a/", 41, "x");
		link_case("41 hops through a -> .", SPEC("l a ."), "l", t, EXTRACT_LINK_LOOP, 0);
		free(t);
	}
}

static void test_link_long(void)
{
	char *t, *u, *v, *w;

	/* Targets near the kernel's limit of 4095 bytes. */
	t = repeat("./", 2040, "a");
	link_case("2,040 './' then a directory", SPEC("d a"), "l", t, 1, EXISTS);
	free(t);
	t = repeat("x/", 600, "");
	u = repeat("../", 600, "");
	if (asprintf(&v, "%s%s", t, u) < 0 || asprintf(&w, "%s..", v) < 0)
		die("asprintf");
	link_case("600 missing levels and 600 '..'", NOSPEC, "l", v, 1, 0);
	link_case("600 missing levels and 601 '..'", NOSPEC, "l", w, 0, 0);
	free(t);
	free(u);
	free(v);
	free(w);
	/* A long chain of real directories, climbed back by a link. */
	t = repeat("d/", 600, "");
	u = repeat("../", 600, "");
	{
		char *spec_d, *lp, *up2;

		if (asprintf(&spec_d, "d %s", t) < 0 || asprintf(&lp, "%sl", t) < 0 ||
		    asprintf(&up2, "%s..", u) < 0)
			die("asprintf");
		link_case("600 real levels climbed by 600 '..'", SPEC(spec_d), lp, u, 1, EXISTS);
		link_case("600 real levels climbed by 601 '..'", SPEC(spec_d), lp, up2, 0, EXISTS);
		free(spec_d);
		free(lp);
		free(up2);
	}
	free(t);
	free(u);
	/* A link whose own target is long, expanded in the middle of another. */
	t = repeat("./", 2000, "..");
	{
		char *spec_l;

		if (asprintf(&spec_l, "l a/long %s", t) < 0)
			die("asprintf");
		link_case("a long link target expanded mid-path", SPEC("d a/b", spec_l), "l",
			  "a/long/a/b", 1, EXISTS);
		link_case("a long link target expanded mid-path, then out", SPEC("d a/b", spec_l),
			  "l", "a/long/..", 0, EXISTS);
		free(spec_l);
	}
	free(t);
}

static void test_link_lexical(void)
{
	ok(extract_link_lexical("a/b", 0) == 1, "link_lexical: a plain relative target");
	ok(extract_link_lexical("..", 0) == 0, "link_lexical: '..' at depth 0");
	ok(extract_link_lexical("..", 1) == 1, "link_lexical: '..' at depth 1");
	ok(extract_link_lexical("../..", 1) == 0, "link_lexical: '../..' at depth 1");
	ok(extract_link_lexical("a/../..", 0) == 0, "link_lexical: 'a/../..' at depth 0");
	ok(extract_link_lexical("./.././", 0) == 0, "link_lexical: '..' hidden among '.'");
	ok(extract_link_lexical("/a", 5) == 0, "link_lexical: an absolute target");
	ok(extract_link_lexical("a//..//..", 1) == 1, "link_lexical: empty components");
}

/* Remove the temp dir however the test ends, die() included. */
static void remove_tmpdir(void)
{
	char cmd[PATH_MAX + 16];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "extract_test: cannot remove '%s'\n", tmpdir);
		_exit(99); /* something was left behind: a failure */
	}
	tmpdir[0] = '\0';
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/extract_test.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		die("mkdtemp");
	}
	atexit(remove_tmpdir);

	test_clean_path();
	test_link_lexical();
	test_link_basic();
	test_link_absolute();
	test_link_leave_and_return();
	test_link_chains();
	test_link_dotdot_through_links();
	test_link_loops_and_hops();
	test_link_long();

	if (root_fd >= 0)
		close(root_fd);
	return tap_done();
}
