/*
 * sig: interruption and fault injection. SIGINT, SIGTERM and SIGHUP set a
 * flag that long loops poll, so an interrupted command still restarts the
 * bot and removes its temporary files. SIGPIPE is ignored: a closed pipe
 * shows up as EPIPE on write and takes the same cleanup path.
 */
#ifndef SK_SIG_H
#define SK_SIG_H

void sig_install(void);
/* Non-zero once a terminating signal arrived. */
int sig_interrupted(void);

/*
 * Test-only crash points: when $STATEKIT_FAULT equals name, the process
 * kills itself with SIGKILL right here, as a power cut or kill -9 would.
 * The points are listed in statekit(7).
 */
void fault_point(const char *name);
/* True when $STATEKIT_FAULT equals name (to steer a test down a path). */
int fault_wanted(const char *name);

#endif
