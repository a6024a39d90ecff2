/*
 * lbmethod.h - choosing a member: byrequests, bytraffic, bybusyness.
 *
 * Each method is one ops table. lbmethod_pick applies Apache's order:
 * lbsets from the lowest up; in each, the usable members that are not hot
 * standbys (hot spares standing in for unusable members of the same lbset),
 * and only if there is none, that lbset's hot standbys. The first lbset with
 * a candidate wins; the method picks among its candidates.
 */
#ifndef BALANCER_LBMETHOD_H
#define BALANCER_LBMETHOD_H

#include "balancer.h"

struct lbmethod_ops {
    const char *name;       /* "byrequests" ... as in lbmethod= */
    /* Choose among cand[0..n), n >= 1; caller holds b->lock. */
    struct member *(*pick)(struct balancer *b, struct member **cand,
                           size_t n);
};

extern const struct lbmethod_ops lbmethod_byrequests;
extern const struct lbmethod_ops lbmethod_bytraffic;
extern const struct lbmethod_ops lbmethod_bybusyness;

/* The ops for a kind, or the kind for a name (-1 when unknown). */
const struct lbmethod_ops *lbmethod_ops(enum lbmethod_kind kind);
int lbmethod_from_name(const char *name);

/*
 * Choose a member of b for a new request, skipping those in exclude
 * (members already tried for this request; may be NULL, nexclude 0).
 * With forcerecovery, when every member is in error, the error state of all
 * is cleared first, as Apache does. Takes b->lock. Members marked
 * draining (N) are never chosen here; a member in exclude counts as
 * unusable (a hot spare may stand in for it). Counts the pick in
 * m->elected.
 * Returns the member, with *reason PICK_LBMETHOD or PICK_STANDBY, or NULL
 * when no member is usable.
 */
struct member *lbmethod_pick(struct balancer *b, struct member **exclude,
                             size_t nexclude, enum pick_reason *reason);

/*
 * Account a member chosen by its sticky route, as mod_proxy_balancer does
 * so that sticky requests count in the byrequests shares: every usable
 * member earns its lbfactor and chosen pays back the total. Takes
 * b->lock. sticky_route_member calls it.
 */
void lbmethod_note_sticky(struct balancer *b, struct member *chosen);

#endif
