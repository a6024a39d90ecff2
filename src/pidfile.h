/*
 * pidfile.h - the PidFile, and `balancer -k graceful|stop` finding the
 * running instance through it (as apachectl does).
 *
 * Where: PidFile PATH when the configuration sets it (a relative PATH is
 * taken from the main configuration file's directory). Else, as Apache
 * keeps its pid file beside its logs: "balancer.pid" in the directory of
 * the ErrorLog file; else /run/balancer.pid when running as root; else
 * none (and -k needs a PidFile).
 */
#ifndef BALANCER_PIDFILE_H
#define BALANCER_PIDFILE_H

#include <stddef.h>

#include "config.h"

/* c's pid file path into buf: 0, or -1 when there is none. */
int pidfile_path(const struct config *c, char *buf, size_t size);

/*
 * Write this process's pid to c's pid file (replacing it). Returns 0
 * (also when c has no pid file), or -1 with the cause in err.
 */
int pidfile_write(const struct config *c, char *err, size_t errsize);

/* Remove path when it still names this process. NULL is fine. */
void pidfile_remove(const char *path);

/*
 * The running server notes each reload's outcome beside c's pid file
 * ("PIDFILE.reload": a line "N ok" or "N refused: cause", N counting this
 * process's reloads, then "file PATH", the configuration file it read),
 * so that -k graceful can tell its caller. Best effort: nothing when c
 * has no pid file.
 */
void pidfile_note_reload(const struct config *c, const char *refused);

/*
 * `balancer -k ACTION -f FILE`: check FILE as -t does (the error goes to
 * stderr), find the running instance by FILE's pid file and send it
 * SIGHUP (graceful) or SIGTERM (stop). For graceful, wait (5 s at most)
 * for the server's note of the outcome, and say on stderr when the server
 * read another file than FILE (it reads the one it was started with).
 * Returns the exit status: 0 when the signal was sent (and the reload
 * was not refused), 1 otherwise (the cause printed on stderr).
 */
int pidfile_signal_command(const char *action, const char *file);

#endif
