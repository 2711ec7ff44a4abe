/* retain_test: the keep policy's spans, buckets, and its two exceptions. */
#include "retain.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Unix seconds of a UTC time (the test runs with TZ=UTC). */
static int64_t at(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = mi };

	return (int64_t)timegm(&tm);
}

static void test_spans(void)
{
	struct retain_span s;

	ok(retain_parse_span("1y6m", &s) == 0 && s.years == 1 && s.months == 6 && !s.days &&
	       !s.hours,
	   "span: 1y6m");
	ok(retain_parse_span("2w3d12h", &s) == 0 && s.days == 17 && s.hours == 12,
	   "span: 2w3d12h is 17 days and 12 hours");
	ok(retain_parse_span("0", &s) == 0 && !s.years && !s.months && !s.days && !s.hours,
	   "span: 0 is none");
	ok(retain_parse_span("30", &s) < 0, "span: a number needs a unit");
	ok(retain_parse_span("3d1y", &s) < 0, "span: units in order y m w d h");
	ok(retain_parse_span("1d1d", &s) < 0, "span: each unit once");
	ok(retain_parse_span("-1d", &s) < 0 && retain_parse_span("1 d", &s) < 0 &&
	       retain_parse_span("d", &s) < 0 && retain_parse_span("1x", &s) < 0,
	   "span: signs, spaces, a bare unit, an unknown unit refused");
}

/* Decide for times t[0..n) (generation i+1 at t[i]); the kept generations as "1,3,". */
static const char *kept(const struct retain_policy *p, const int64_t *t, size_t n, const int *pre,
			const int *good)
{
	static char out[256];
	struct retain_gen g[32];
	unsigned why[32];
	size_t i, used = 0;

	for (i = 0; i < n; i++) {
		g[i].generation = (int64_t)i + 1;
		g[i].created = t[i];
		g[i].pre_restore = pre ? pre[i] : 0;
		g[i].verified_ok = good ? good[i] : 0;
	}
	if (retain_decide(p, g, n, why) < 0)
		return "error";
	out[0] = '\0';
	for (i = 0; i < n; i++)
		if (why[i])
			used += (size_t)snprintf(out + used, sizeof(out) - used, "%zu,", i + 1);
	return out;
}

static void test_buckets(void)
{
	/* Sat 2026-12-26 .. Sun 2027-01-03: ISO week 52 ends on the 27th,
	 * week 53 runs to 3 January. */
	int64_t t[9];
	struct retain_policy p = { 0 };
	size_t i;

	for (i = 0; i < 9; i++)
		t[i] = at(2026, 12, 26 + (int)i, 3, 0);
	p.weekly = 2;
	ok(strcmp(kept(&p, t, 9, NULL, NULL), "2,9,") == 0,
	   "weekly: the newest of each ISO week, across the year's end (%s)",
	   kept(&p, t, 9, NULL, NULL));
	memset(&p, 0, sizeof(p));
	p.yearly = 5;
	ok(strcmp(kept(&p, t, 9, NULL, NULL), "6,9,") == 0,
	   "yearly: 31 December and the newest (%s)", kept(&p, t, 9, NULL, NULL));
	memset(&p, 0, sizeof(p));
	p.last = 2;
	p.monthly = 1;
	ok(strcmp(kept(&p, t, 9, NULL, NULL), "8,9,") == 0,
	   "last and monthly together keep their union (%s)", kept(&p, t, 9, NULL, NULL));
}

static void test_within(void)
{
	/* 31 March minus one month is "31 February": mktime makes it 3 March. */
	int64_t t[4] = { at(2026, 2, 27, 0, 0), at(2026, 3, 2, 0, 0), at(2026, 3, 3, 0, 0),
			 at(2026, 3, 31, 0, 0) };
	struct retain_policy p = { 0 };

	p.within.months = 1;
	ok(strcmp(kept(&p, t, 4, NULL, NULL), "3,4,") == 0,
	   "within 1m of 31 March keeps from 3 March on (%s)", kept(&p, t, 4, NULL, NULL));
	p.within.months = 0;
	p.within.hours = 1;
	ok(strcmp(kept(&p, t, 4, NULL, NULL), "4,") == 0, "within 1h keeps the newest alone");
}

static void test_exceptions(void)
{
	int64_t t[4] = { at(2026, 5, 1, 3, 0), at(2026, 5, 2, 3, 0), at(2026, 5, 3, 3, 0),
			 at(2026, 5, 3, 9, 0) };
	int pre[4] = { 0, 0, 0, 1 }, good[4] = { 1, 0, 0, 0 };
	struct retain_policy p = { .last = 1 };

	ok(strcmp(kept(&p, t, 4, pre, NULL), "3,4,") == 0,
	   "a pre-restore copy newer than every backup is kept and takes no slot (%s)",
	   kept(&p, t, 4, pre, NULL));
	pre[3] = 0;
	pre[1] = 1;
	ok(strcmp(kept(&p, t, 4, pre, NULL), "4,") == 0,
	   "an older pre-restore copy counts like any generation (%s)", kept(&p, t, 4, pre, NULL));
	ok(strcmp(kept(&p, t, 4, NULL, good), "1,4,") == 0,
	   "the newest verified-good generation is kept (%s)", kept(&p, t, 4, NULL, good));
	good[2] = 1;
	ok(strcmp(kept(&p, t, 4, NULL, good), "3,4,") == 0,
	   "only the newest verified-good one (%s)", kept(&p, t, 4, NULL, good));
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_spans();
	test_buckets();
	test_within();
	test_exceptions();
	return tap_done();
}
