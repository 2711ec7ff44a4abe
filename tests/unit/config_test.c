/*
 * config_test: config_check_id, the one gate every bot, machine and
 * snapshot id passes before a path is built from it. Every boundary of
 * ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$, and every byte value in the first and a
 * later position against that pattern written out by hand.
 */
#include "config.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pattern, spelled out independently of config.c. */
static int want_valid(const char *id)
{
	size_t n = strlen(id), i;

	if (n < 1 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		int alnum =
		    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

/* 0 valid, else the error code; msg gets the message. */
static int check(const char *what, const char *id, char *msg, size_t size)
{
	struct sk_err err = SK_ERR_INIT;

	if (config_check_id(what, id, &err) == 0) {
		if (msg)
			msg[0] = '\0';
		return 0;
	}
	if (msg)
		snprintf(msg, size, "%s", err.msg);
	return err.code;
}

static void valid(const char *label, const char *id)
{
	int rc = check("bot", id, NULL, 0);

	ok(rc == 0, "config_check_id: %s is valid (rc %d)", label, rc);
}

static void invalid(const char *label, const char *id)
{
	char msg[512];
	int rc = check("bot", id, msg, sizeof(msg));

	ok(rc == SK_EUSAGE && strncmp(msg, "invalid bot id '", 16) == 0,
	   "config_check_id: %s is refused, exit class 2 (rc %d)", label, rc);
}

static char *run_of(char first, char fill, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memset(s, fill, n);
	if (n)
		s[0] = first;
	s[n] = '\0';
	return s;
}

int main(void)
{
	char id[4], msg[512], *s;
	int c, bad;

	valid("one letter", "a");
	valid("one digit", "7");
	valid("one capital", "Z");
	valid("letters, digits, '_' and '-'", "bot_1-A");
	valid("a trailing '-'", "a-");
	valid("a trailing '_'", "a_");
	valid("all digits", "0123456789");

	invalid("the empty id", "");
	invalid("a leading '-'", "-a");
	invalid("a leading '_'", "_a");
	invalid("'-' alone", "-");
	invalid("'_' alone", "_");
	invalid("'.'", ".");
	invalid("'..'", "..");
	invalid("a '.' inside", "a.b");
	invalid("a '/' inside", "a/b");
	invalid("a traversal", "a/../../etc");
	invalid("a leading '/'", "/a");
	invalid("a space inside", "a b");
	invalid("a leading space", " a");
	invalid("a trailing space", "a ");
	invalid("a trailing newline", "a\n");
	invalid("a newline inside", "a\nb");
	invalid("a tab", "a\tb");
	invalid("'%s'", "a%sb");
	invalid("UTF-8 letters", "caf\xc3\xa9");
	invalid("a leading byte 0xff", "\xff"
				       "a");
	invalid("a byte 0x80", "a\x80");
	invalid("DEL", "a\x7f");
	invalid("ESC", "a\x1b[0m");

	/* Length: 1 to 64 bytes, whatever the first character. */
	s = run_of('a', 'b', 63);
	valid("63 bytes", s);
	free(s);
	s = run_of('a', 'b', 64);
	valid("64 bytes", s);
	free(s);
	s = run_of('a', '-', 64);
	valid("64 bytes ending in 63 '-'", s);
	free(s);
	s = run_of('a', 'b', 65);
	invalid("65 bytes", s);
	free(s);
	s = run_of('9', '_', 65);
	invalid("65 bytes of a digit and '_'", s);
	free(s);
	s = run_of('a', 'b', 10000);
	invalid("10,000 bytes", s);
	free(s);

	/* Every byte in the first and in the second position. */
	bad = 0;
	for (c = 1; c < 256; c++) {
		id[0] = (char)c;
		id[1] = '\0';
		if ((check("bot", id, NULL, 0) == 0) != want_valid(id))
			bad++;
		id[0] = 'a';
		id[1] = (char)c;
		id[2] = '\0';
		if ((check("bot", id, NULL, 0) == 0) != want_valid(id))
			bad++;
		id[0] = (char)c;
		id[1] = 'a';
		if ((check("bot", id, NULL, 0) == 0) != want_valid(id))
			bad++;
	}
	ok(bad == 0,
	   "config_check_id: every byte 1-255, first and later, matches the pattern "
	   "(%d mismatches)",
	   bad);

	/* The message names what was checked and says what is expected. */
	check("snapshot", "-x", msg, sizeof(msg));
	ok(strcmp(msg, "invalid snapshot id '-x' (expected 1-64 of A-Z a-z 0-9 _ -, "
		       "starting with a letter or digit)") == 0,
	   "config_check_id: the message names the kind and the id (%s)", msg);

	/* Control bytes from an untrusted id never reach the terminal raw. */
	check("snapshot", "a\x1b]0;pwned\x07\nb", msg, sizeof(msg));
	ok(strncmp(msg, "invalid snapshot id 'a?]0;pwned??b' (", 37) == 0,
	   "config_check_id: control bytes in the message are shown as '?' (%s)", msg);
	s = run_of('a', 'b', 10000);
	check("bot", s, msg, sizeof(msg));
	ok(strstr(msg, " (expected 1-64 of") && strstr(msg, "bbb...'"),
	   "config_check_id: a 10,000-byte id is cut short and the reason still shows");
	free(s);

	return tap_done();
}
