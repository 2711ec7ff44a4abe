/*
 * retain.c: the keep policy of ws-preserve's generations. The walk is
 * restic's: newest first, each rule keeping the first generation it meets in
 * each bucket it has not seen yet, until its count runs out.
 */
#include "retain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

int retain_parse_span(const char *s, struct retain_span *out)
{
	static const char units[] = "ymwdh";
	const char *next = units;
	int v[5] = { 0 };

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "0") == 0 || !*s)
		return 0;
	while (*s) {
		const char *u;
		char *end;
		long n;

		if (*s < '0' || *s > '9')
			return -1;
		n = strtol(s, &end, 10);
		u = *end ? strchr(next, *end) : NULL;
		if (!u || n > 100000)
			return -1;
		v[u - units] = (int)n;
		next = u + 1;
		s = end + 1;
	}
	out->years = v[0];
	out->months = v[1];
	out->days = v[2] * 7 + v[3];
	out->hours = v[4];
	return 0;
}

int retain_span_any(const struct retain_span *s)
{
	return s->years || s->months || s->days || s->hours;
}

int retain_policy_any(const struct retain_policy *p)
{
	return p->last || p->hourly || p->daily || p->weekly || p->monthly || p->yearly ||
	       retain_span_any(&p->within);
}

/* Newest first: by creation time, then by number. */
static int cmp_newest(const void *a, const void *b, void *arg)
{
	const struct retain_gen *g = arg;
	const struct retain_gen *x = &g[*(const size_t *)a], *y = &g[*(const size_t *)b];

	if (x->created != y->created)
		return x->created < y->created ? 1 : -1;
	return x->generation < y->generation ? 1 : x->generation > y->generation ? -1 : 0;
}

/* The bucket of t for rule r (0 last .. 5 yearly); last gives each its own. */
static int64_t bucket(int r, int64_t t, size_t pos)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[16] = "";

	localtime_r(&tt, &tm);
	switch (r) {
	case 0:
		return (int64_t)pos;
	case 1:
		strftime(buf, sizeof(buf), "%Y%m%d%H", &tm);
		break;
	case 2:
		strftime(buf, sizeof(buf), "%Y%m%d", &tm);
		break;
	case 3: /* the ISO week: the week of 31 December may be week 1 of the next year */
		strftime(buf, sizeof(buf), "%G%V", &tm);
		break;
	case 4:
		strftime(buf, sizeof(buf), "%Y%m", &tm);
		break;
	default:
		strftime(buf, sizeof(buf), "%Y", &tm);
	}
	return strtoll(buf, NULL, 10);
}

/* The earliest creation time --keep-within keeps: the span before newest. */
static int64_t within_cutoff(const struct retain_span *s, int64_t newest)
{
	time_t tt = (time_t)newest;
	struct tm tm;

	localtime_r(&tt, &tm);
	tm.tm_year -= s->years;
	tm.tm_mon -= s->months;
	tm.tm_mday -= s->days;
	tm.tm_hour -= s->hours;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

/* The walk over order (newest first) for the counted rules and the span. */
static void walk(const struct retain_policy *p, const struct retain_gen *gens, const size_t *order,
		 size_t n, unsigned *why)
{
	int count[6] = { p->last, p->hourly, p->daily, p->weekly, p->monthly, p->yearly };
	int64_t last[6];
	int seen[6] = { 0 };
	int64_t newest = -1, cutoff = 0;
	size_t k, pos = 0;
	int r;

	for (k = 0; k < n; k++) {
		const struct retain_gen *g = &gens[order[k]];

		/* A pre-restore copy newer than every backup counts for nothing yet. */
		if (g->pre_restore && newest < 0) {
			why[order[k]] |= RETAIN_PRE_RESTORE;
			continue;
		}
		if (newest < 0) {
			newest = g->created;
			cutoff = within_cutoff(&p->within, newest);
		}
		for (r = 0; r < 6; r++) {
			int64_t b;

			if (count[r] <= 0)
				continue;
			b = bucket(r, g->created, pos);
			if (seen[r] && b == last[r])
				continue;
			seen[r] = 1;
			last[r] = b;
			count[r]--;
			why[order[k]] |= RETAIN_LAST << r;
		}
		if (retain_span_any(&p->within) && g->created >= cutoff)
			why[order[k]] |= RETAIN_WITHIN;
		pos++;
	}
}

int retain_decide(const struct retain_policy *p, const struct retain_gen *gens, size_t n,
		  unsigned *why)
{
	size_t *order, k;

	memset(why, 0, n * sizeof(*why));
	if (!n)
		return 0;
	order = malloc(n * sizeof(*order));
	if (!order)
		return -1;
	for (k = 0; k < n; k++)
		order[k] = k;
	qsort_r(order, n, sizeof(*order), cmp_newest, (void *)gens);
	walk(p, gens, order, n, why);
	for (k = 0; k < n; k++) {
		if (gens[order[k]].verified_ok) {
			why[order[k]] |= RETAIN_VERIFIED;
			break;
		}
	}
	free(order);
	return 0;
}

const char *retain_reasons(unsigned why, char *buf, size_t size)
{
	static const char *const names[] = { "last",   "hourly",      "daily",
					     "weekly", "monthly",     "yearly",
					     "within", "pre-restore", "newest verified" };
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && used < size; i++)
		if (why & (1u << i))
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
						 names[i]);
	return buf;
}
