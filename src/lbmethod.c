/*
 * lbmethod.c - choosing a member: byrequests, bytraffic, bybusyness, and
 * the order in which Apache offers members to them (lbsets, hot spares,
 * hot standbys).
 *
 * Each method follows its mod_lbmethod_* module of Apache httpd 2.4. The
 * candidates are gathered without the lock (status flags and counters are
 * atomics); only the method itself, which reads and writes lbstatus, runs
 * under b->lock, so the critical section is one pass over the candidates.
 */
#include "lbmethod.h"

#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "log.h"

/* Candidates of one pick live on the stack up to this many members. */
#define STACK_MEMBERS 64

/* The member's lbfactor, reduced while it ramps up after coming back
 * (slowstart=, health.h). */
static int64_t member_factor(struct member *m)
{
    /* The configuration keeps loadfactor in 100 .. 10000; never divide
     * by zero if a caller built a member by hand. */
    return health_effective_factor(m, m->loadfactor > 0 ? m->loadfactor
                                                        : 100);
}

/*
 * mod_lbmethod_byrequests, "Request Counting Algorithm": every candidate
 * earns its lbfactor, the one with the largest lbstatus (the first on a
 * tie) is chosen and pays back the total handed out.
 */
static struct member *pick_byrequests(struct balancer *b,
                                      struct member **cand, size_t n)
{
    struct member *best = NULL;
    int64_t total = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        struct member *m = cand[i];

        m->lbstatus += member_factor(m);
        total += member_factor(m);
        if (best == NULL || m->lbstatus > best->lbstatus)
            best = m;
    }
    best->lbstatus -= total;
    return best;
}

/*
 * mod_lbmethod_bytraffic, "Weighted Traffic Counting": the least traffic
 * for its weight. Apache divides each direction by the factor on its own
 * and adds the quotients; so do we.
 */
static struct member *pick_bytraffic(struct balancer *b,
                                     struct member **cand, size_t n)
{
    struct member *best = NULL;
    uint64_t best_traffic = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        struct member *m = cand[i];
        uint64_t factor = (uint64_t)member_factor(m);
        uint64_t traffic = atomic_load(&m->bytes_out) / factor
                           + atomic_load(&m->bytes_in) / factor;

        if (best == NULL || traffic < best_traffic) {
            best = m;
            best_traffic = traffic;
        }
    }
    return best;
}

/*
 * mod_lbmethod_bybusyness, "Pending Request Counting": the fewest
 * requests in flight; as in Apache 2.4, busy is not weighted, and ties
 * go to the byrequests-style lbstatus, which every candidate earns.
 */
static struct member *pick_bybusyness(struct balancer *b,
                                      struct member **cand, size_t n)
{
    struct member *best = NULL;
    int64_t best_busy = 0;
    int64_t total = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        struct member *m = cand[i];
        int64_t busy = atomic_load(&m->busy);

        m->lbstatus += member_factor(m);
        total += member_factor(m);
        if (best == NULL || busy < best_busy
            || (busy == best_busy && m->lbstatus > best->lbstatus)) {
            best = m;
            best_busy = busy;
        }
    }
    best->lbstatus -= total;
    return best;
}

const struct lbmethod_ops lbmethod_byrequests = {
    "byrequests", pick_byrequests
};

const struct lbmethod_ops lbmethod_bytraffic = {
    "bytraffic", pick_bytraffic
};

const struct lbmethod_ops lbmethod_bybusyness = {
    "bybusyness", pick_bybusyness
};

static const struct lbmethod_ops *const all_methods[] = {
    [LBMETHOD_BYREQUESTS] = &lbmethod_byrequests,
    [LBMETHOD_BYTRAFFIC] = &lbmethod_bytraffic,
    [LBMETHOD_BYBUSYNESS] = &lbmethod_bybusyness,
};

#define NMETHODS (sizeof(all_methods) / sizeof(all_methods[0]))

const struct lbmethod_ops *lbmethod_ops(enum lbmethod_kind kind)
{
    if ((unsigned)kind >= NMETHODS)
        return &lbmethod_byrequests;
    return all_methods[kind];
}

int lbmethod_from_name(const char *name)
{
    size_t i;

    for (i = 0; i < NMETHODS; i++)
        if (strcmp(all_methods[i]->name, name) == 0)
            return (int)i;
    return -1;
}

/* The members of one lbset, sorted as Apache's get_best_worker does. */
struct lbset_scan {
    struct member **regular;    /* usable, neither spare nor standby */
    size_t nregular;
    struct member **spares;     /* usable hot spares */
    size_t nspares;
    struct member **standbys;   /* usable hot standbys */
    size_t nstandbys;
    size_t unusable;            /* regular members that cannot serve */
};

static bool is_excluded(const struct member *m, struct member **exclude,
                        size_t nexclude)
{
    size_t i;

    for (i = 0; i < nexclude; i++)
        if (exclude[i] == m)
            return true;
    return false;
}

static void scan_lbset(struct balancer *b, int lbset,
                       struct member **exclude, size_t nexclude,
                       int64_t now_ms, struct lbset_scan *s)
{
    size_t i;

    s->nregular = s->nspares = s->nstandbys = s->unusable = 0;

    for (i = 0; i < b->nmembers; i++) {
        struct member *m = b->members[i];
        unsigned status;
        bool usable;

        if (m->lbset != lbset)
            continue;

        /* Draining members keep their sticky sessions only; Apache skips
         * them before anything else, so they do not count as unusable. */
        status = atomic_load(&m->status);
        if (status & MEMBER_DRAIN)
            continue;

        /* A member already tried for this request counts as unusable. */
        usable = !is_excluded(m, exclude, nexclude)
                 && member_is_usable(m, now_ms);

        if (status & MEMBER_HOT_SPARE) {
            if (usable)
                s->spares[s->nspares++] = m;
        } else if (status & MEMBER_HOT_STANDBY) {
            if (usable)
                s->standbys[s->nstandbys++] = m;
        } else if (usable) {
            s->regular[s->nregular++] = m;
        } else {
            s->unusable++;
        }
    }
}

/*
 * The candidates of one lbset, in s->regular: the usable regular members,
 * then one usable hot spare (in configuration order) for each unusable
 * regular member; when there is none of either, the hot standbys.
 * Returns their number and sets *standby when they are standbys.
 */
static size_t lbset_candidates(struct lbset_scan *s, bool *standby)
{
    size_t i, n = s->nregular;

    for (i = 0; i < s->nspares && i < s->unusable; i++)
        s->regular[n++] = s->spares[i];

    *standby = false;
    if (n > 0)
        return n;

    for (i = 0; i < s->nstandbys; i++)
        s->regular[i] = s->standbys[i];
    *standby = s->nstandbys > 0;
    return s->nstandbys;
}

/* The smallest lbset above after, or -1 when there is none. */
static int next_lbset(const struct balancer *b, int after)
{
    int next = -1;
    size_t i;

    for (i = 0; i < b->nmembers; i++) {
        int l = b->members[i]->lbset;

        if (l > after && (next < 0 || l < next))
            next = l;
    }
    return next;
}

static struct member *pick_once(struct balancer *b, struct member **exclude,
                                size_t nexclude, int64_t now_ms,
                                struct lbset_scan *s, bool *standby)
{
    const struct lbmethod_ops *ops = lbmethod_ops(b->lbmethod);
    struct member *chosen;
    size_t n = 0;
    int lbset;

    for (lbset = next_lbset(b, -1); lbset >= 0;
         lbset = next_lbset(b, lbset)) {
        scan_lbset(b, lbset, exclude, nexclude, now_ms, s);
        n = lbset_candidates(s, standby);
        if (n > 0)
            break;
    }
    if (n == 0)
        return NULL;

    pthread_mutex_lock(&b->lock);
    chosen = ops->pick(b, s->regular, n);
    pthread_mutex_unlock(&b->lock);
    return chosen;
}

struct member *lbmethod_pick(struct balancer *b, struct member **exclude,
                             size_t nexclude, enum pick_reason *reason)
{
    struct member *stack[3 * STACK_MEMBERS];
    struct member **buf = stack;
    struct lbset_scan s;
    struct member *chosen;
    int64_t now = balancer_now_ms();
    bool standby = false;

    *reason = PICK_NONE;
    if (b->nmembers == 0)
        return NULL;

    if (b->nmembers > STACK_MEMBERS) {
        buf = malloc(3 * b->nmembers * sizeof(*buf));
        if (buf == NULL)
            return NULL;
    }
    s.regular = buf;
    s.spares = buf + b->nmembers;
    s.standbys = buf + 2 * b->nmembers;

    chosen = pick_once(b, exclude, nexclude, now, &s, &standby);
    if (chosen == NULL && balancer_force_recovery(b, now))
        chosen = pick_once(b, exclude, nexclude, now, &s, &standby);

    if (chosen != NULL) {
        atomic_fetch_add(&chosen->elected, 1);
        *reason = standby ? PICK_STANDBY : PICK_LBMETHOD;
    }

    if (buf != stack)
        free(buf);
    return chosen;
}

void lbmethod_note_sticky(struct balancer *b, struct member *chosen)
{
    const unsigned not_usable = MEMBER_DISABLED | MEMBER_STOPPED
                                | MEMBER_IN_ERROR | MEMBER_HC_FAILED;
    int64_t total = 0;
    size_t i;

    pthread_mutex_lock(&b->lock);
    for (i = 0; i < b->nmembers; i++) {
        struct member *m = b->members[i];

        if (atomic_load(&m->status) & not_usable)
            continue;
        m->lbstatus += member_factor(m);
        total += member_factor(m);
    }
    chosen->lbstatus -= total;
    pthread_mutex_unlock(&b->lock);
}
