/*
 * banned: functions statekit never calls, because each makes it easy to
 * write past a buffer or to drop a truncation silently. Use snprintf (and
 * check its result), memcpy with a known length, or fs_pathf instead.
 * Included last in every .c file, after the system headers that declare
 * them; a banned call then fails to compile with a name that says why.
 */
#ifndef SK_BANNED_H
#define SK_BANNED_H

#define SK_BANNED(func) sorry_##func##_is_banned_in_statekit

#undef strcpy
#define strcpy(x, y) SK_BANNED(strcpy)
#undef strcat
#define strcat(x, y) SK_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) SK_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) SK_BANNED(strncat)
#undef sprintf
#define sprintf(...) SK_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) SK_BANNED(vsprintf)
#undef gets
#define gets(x) SK_BANNED(gets)

#endif
