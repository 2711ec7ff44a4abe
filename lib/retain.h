/*
 * retain: which backup generations a keep policy keeps, and why, as restic's
 * "forget" decides it: the union of the rules. Pure computation on times and
 * flags, no files; ws-preserve applies the verdicts.
 */
#ifndef SK_RETAIN_H
#define SK_RETAIN_H

#include <stddef.h>
#include <stdint.h>

/* A calendar span, as "1y6m" or "2w3d12h": years, months, days, hours. */
struct retain_span {
	int years, months, days, hours;
};

/* Each count 0 means the rule is off. */
struct retain_policy {
	int last, hourly, daily, weekly, monthly, yearly;
	struct retain_span within; /* all zero: off */
};

/* One generation as the policy sees it. */
struct retain_gen {
	int64_t generation;
	int64_t created; /* unix seconds */
	int pre_restore; /* tagged pre-restore */
	int verified_ok; /* its last --verify passed */
};

/* Why a generation is kept: a set of these bits; 0 means it goes. */
enum {
	RETAIN_LAST = 1 << 0,
	RETAIN_HOURLY = 1 << 1,
	RETAIN_DAILY = 1 << 2,
	RETAIN_WEEKLY = 1 << 3,
	RETAIN_MONTHLY = 1 << 4,
	RETAIN_YEARLY = 1 << 5,
	RETAIN_WITHIN = 1 << 6,
	RETAIN_PRE_RESTORE = 1 << 7, /* newer than every other generation */
	RETAIN_VERIFIED = 1 << 8,    /* the newest verified-good one */
};

/*
 * Parse "1y2m3w4d5h" (any of the parts, in that order, each once; "0" or ""
 * is no span). 0, or -1 for anything else.
 */
int retain_parse_span(const char *s, struct retain_span *out);
/* Is the span more than nothing? */
int retain_span_any(const struct retain_span *s);
/* Does the policy keep anything at all? */
int retain_policy_any(const struct retain_policy *p);

/*
 * Decide for n generations in any order: why[i] gets the reasons gens[i]
 * is kept, 0 when it goes. Buckets (hour, day, ISO week, month, year) are
 * of local time. Walking newest first (by created, then generation), each
 * rule keeps the first generation of each new bucket until its count is
 * used up; --keep-within keeps every generation created within the span
 * before the newest one. A pre-restore generation newer than every other is
 * kept and counts for no rule; the newest verified-good generation is
 * always kept. -1 only when out of memory.
 */
int retain_decide(const struct retain_policy *p, const struct retain_gen *gens, size_t n,
		  unsigned *why);

/* "daily, weekly" for a set of reasons; "" for none. */
const char *retain_reasons(unsigned why, char *buf, size_t size);

#endif
