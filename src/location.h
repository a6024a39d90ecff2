/*
 * location.h - <Location PATH> sections: the handler (SetHandler) and
 * the access rules (Require) of the URLs under PATH.
 *
 * Read by config_location.c, applied to requests by handler.c. The
 * Require forms follow mod_authz_core and mod_authz_host (Apache httpd
 * 2.4): "Require all granted|denied", "Require local" and "Require ip
 * ADDR|PARTIAL|NET/MASK|NET/BITS ...". Several Require lines in one
 * section grant access when any of them does (Apache's implicit
 * <RequireAny>); a section without Require grants everyone, as in Apache.
 */
#ifndef BALANCER_LOCATION_H
#define BALANCER_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum require_kind {
    REQUIRE_ALL_GRANTED,
    REQUIRE_ALL_DENIED,
    REQUIRE_LOCAL,              /* loopback, or the address we answer on */
    REQUIRE_IP                  /* one of ranges */
};

/* An address range: addr & mask == (client & mask). IPv4 as AF_INET
 * in the first 4 bytes. */
struct ip_range {
    sa_family_t family;
    uint8_t addr[16];
    uint8_t mask[16];
};

struct require {
    enum require_kind kind;
    struct ip_range *ranges;    /* REQUIRE_IP */
    size_t nranges;
};

struct location {
    char *path;                 /* as written, e.g. "/balancer-manager" */
    char *handler;              /* SetHandler NAME, NULL when none */
    bool handler_none;          /* SetHandler None: cancels an outer one */
    struct require *requires;
    size_t nrequires;
    const char *file;           /* where it opened, for messages */
    int line;
};

/* Free the array of n locations and what each owns. NULL is fine. */
void location_free_all(struct location *list, size_t n);

/*
 * Parse one "Require ip" argument ("10.1.2.3", "10.1", "10.0.0.0/8",
 * "10.0.0.0/255.0.0.0", "::1", "2001:db8::/32") into *out. Returns 0,
 * or -1 with *why saying what was wrong.
 */
int location_parse_range(const char *text, struct ip_range *out,
                         const char **why);

/* Is the address text (as inet_ntop writes it) inside range r? An
 * IPv4-mapped IPv6 address counts as its IPv4 address. */
bool location_range_has(const struct ip_range *r, const char *ip);

/* Does the <Location> path match the request path (not decoded, no
 * query)? As Apache's location walk: a prefix that ends at a '/' of the
 * path or at its end ("/m" matches "/m" and "/m/x", not "/mx"), runs of
 * '/' in the path counting as one. */
bool location_path_matches(const char *location, const char *path,
                           size_t path_len);

#endif
