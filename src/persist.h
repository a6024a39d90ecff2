/*
 * persist.h - BalancerPersist On: runtime changes (status flags set by
 * the balancer-manager, loadfactor, lbset, route, redirect) kept across
 * reloads and restarts in a readable JSON state file.
 *
 * The state file records, for every member, both what the configuration
 * set and what was in force. When it is read back (at start), a value is
 * taken from it only where the configuration still sets what it set when
 * the state was saved: where the file changed since, the configuration
 * wins, field by field (status= is one field). Apache keeps the same
 * state in shared memory files under its runtime directory; ours is one
 * JSON file.
 *
 * Where: the PidFile's path with its extension replaced by ".state"
 * (pidfile.h gives the default PidFile), e.g. /var/log/balancer/
 * balancer.state beside /var/log/balancer/balancer.pid.
 */
#ifndef BALANCER_PERSIST_H
#define BALANCER_PERSIST_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* The status flags an operator sets (status= in the file, or the
 * manager); error and health state are not kept in the state file. */
#define MEMBER_ADMIN_FLAGS (MEMBER_DISABLED | MEMBER_STOPPED |           \
                            MEMBER_IGNORE_ERRORS | MEMBER_HOT_STANDBY |  \
                            MEMBER_HOT_SPARE | MEMBER_DRAIN)

/* One member as its configuration file set it. */
struct persist_member_conf {
    char *balancer;                 /* "balancer://cluster" */
    char *member;                   /* the member's URL */
    unsigned status;                /* status= (all flags) */
    int loadfactor;                 /* x 100 */
    int lbset;
    char *route;
    char *redirect;
};

/* Every member of a configuration as read, before any runtime change. */
struct persist_baseline {
    struct persist_member_conf *members;
    size_t nmembers;
};

/* Record what c sets (call right after config_load, before serving).
 * Returns NULL when memory is exhausted. Freed by persist_baseline_free
 * (NULL is fine). */
struct persist_baseline *persist_baseline_create(const struct config *c);
void persist_baseline_free(struct persist_baseline *b);

/* The entry for member URL of balancer name, or NULL. */
const struct persist_member_conf *
persist_baseline_find(const struct persist_baseline *b, const char *name,
                      const char *member);

/* The state file's path for c into buf: 0, or -1 when c has no PidFile
 * path (see pidfile.h) to put it beside. */
int persist_path(const struct config *c, char *buf, size_t size);

/*
 * At start, with BalancerPersist On: apply the state file to c's members
 * (runtime initialised, not serving yet), field by field where the
 * configuration still sets what it set when the state was saved. No file
 * is fine (first start). A file that cannot be read or parsed is logged
 * (warning) and ignored. Returns the number of members changed.
 */
int persist_load(struct config *c, const struct persist_baseline *base);

/*
 * Tell persist which configuration is current and what its files set
 * (reload.c calls it at start and after each reload). Any thread.
 */
void persist_set_current(const struct config *c,
                         const struct persist_baseline *base);

/*
 * Save the runtime state of c to the state file, when c has
 * BalancerPersist On and is the current configuration (else nothing is
 * written and 0 is returned). The balancer-manager calls it after each
 * change it makes; reload.c after a reload. Any thread: saves are
 * serialised by a lock; the file is replaced atomically (written aside,
 * then renamed). A member's loadfactor, lbset, route and redirect are
 * read under its balancer's lock, so whoever changes them at run time
 * must hold that lock while doing so. Returns 0, or -1 when the file
 * could not be written (logged at error level, with the cause).
 */
int persist_save(const struct config *c);

#endif
