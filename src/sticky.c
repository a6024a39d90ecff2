/*
 * sticky.c - the sticky route of a request, and the cookie balancer sets.
 *
 * Follows what mod_proxy_balancer (Apache httpd 2.4) does in
 * find_session_route and its helpers; where we differ on purpose, the
 * comment says so and why.
 */
#include "sticky.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lbmethod.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'
           || c == '\v';
}

static bool name_at(const char *text, size_t len, size_t at,
                    const char *name, size_t name_len)
{
    return len - at >= name_len && memcmp(text + at, name, name_len) == 0;
}

/*
 * Apache's get_path_param looks for the name anywhere in the URL (path
 * and query alike) followed by '=', so it takes "XBALANCEID=..." for
 * BALANCEID. We match the whole name only: it must follow '?', '&' or
 * ';'. Like Apache, a ";name=value" path parameter is found with or
 * without scolonpathdelim (which, as its documentation says, only makes
 * ';' end the value as well as '?' and '&'). Apache skips "name=" with
 * nothing after it at the end of the URL; we skip an empty value wherever
 * it is (Apache, through strtok, would take the next parameter whole).
 */
bool sticky_url_param(const char *target, size_t target_len,
                      const char *name, bool scolonpathdelim,
                      const char **value, size_t *value_len)
{
    size_t name_len = strlen(name);
    size_t i, end;

    if (name_len == 0)
        return false;

    for (i = 1; i < target_len; i++) {
        char before = target[i - 1];

        if (before != '?' && before != '&' && before != ';')
            continue;
        if (!name_at(target, target_len, i, name, name_len))
            continue;
        if (i + name_len >= target_len || target[i + name_len] != '=')
            continue;

        end = i + name_len + 1;
        while (end < target_len && target[end] != '?' && target[end] != '&'
               && !(scolonpathdelim && target[end] == ';'))
            end++;
        if (end == i + name_len + 1)
            continue;

        *value = target + i + name_len + 1;
        *value_len = end - (i + name_len + 1);
        return true;
    }
    return false;
}

/*
 * As Apache's get_cookie_param: the name must start the header or follow
 * ';', ',' or white space (',' because Apache joins several Cookie
 * headers with ", "); white space may stand before '='; the value ends at
 * ';' or ','. "name=" at the very end of the header is skipped, as in
 * Apache. Quotes are kept, as Apache keeps them. Beyond Apache, white
 * space around the value ("NAME = v ; x") is not part of it: it changes
 * no route with a separator, and browsers strip it too.
 */
bool sticky_cookie_value(const char *header, size_t header_len,
                         const char *name, const char **value,
                         size_t *value_len)
{
    size_t name_len = strlen(name);
    size_t i, j, end;

    if (name_len == 0)
        return false;

    for (i = 0; i < header_len; i++) {
        if (i > 0 && header[i - 1] != ';' && header[i - 1] != ','
            && !is_space(header[i - 1]))
            continue;
        if (!name_at(header, header_len, i, name, name_len))
            continue;

        j = i + name_len;
        while (j < header_len && is_space(header[j]))
            j++;
        if (j >= header_len || header[j] != '=')
            continue;
        j++;
        if (j >= header_len)
            continue;
        while (j < header_len && is_space(header[j]))
            j++;

        end = j;
        while (end < header_len && header[end] != ';' && header[end] != ',')
            end++;
        while (end > j && is_space(header[end - 1]))
            end--;

        *value = header + j;
        *value_len = end - j;
        return true;
    }
    return false;
}

/* The URL parameter's name: after '|' in stickysession, or else, as in
 * Apache (which copies the one name to both), the cookie's name. */
static const char *url_param_name(const struct balancer *b)
{
    return b->sticky_param ? b->sticky_param : b->sticky_cookie;
}

static void split_route(const struct balancer *b, struct sticky_value *out)
{
    const char *sep;

    out->route = NULL;
    out->route_len = 0;

    /* stickysessionsep=Off (0): Apache takes the whole value as route. */
    if (b->sticky_sep == '\0') {
        out->route = out->value;
        out->route_len = out->value_len;
    } else {
        sep = memchr(out->value, b->sticky_sep, out->value_len);
        if (sep != NULL) {
            out->route = sep + 1;
            out->route_len = out->value_len - (size_t)(sep + 1 - out->value);
        }
    }

    /* An empty route is no route, as in Apache. */
    if (out->route_len == 0)
        out->route = NULL;
}

bool sticky_find(const struct balancer *b, const char *target,
                 size_t target_len, const char *const *cookies,
                 const size_t *cookie_lens, size_t ncookies,
                 struct sticky_value *out)
{
    const char *param = url_param_name(b);
    size_t i;

    memset(out, 0, sizeof(*out));
    if (param == NULL)
        return false;

    if (target != NULL
        && sticky_url_param(target, target_len, param, b->scolonpathdelim,
                            &out->value, &out->value_len)) {
        out->from_url = true;
        split_route(b, out);
        return true;
    }

    for (i = 0; b->sticky_cookie != NULL && i < ncookies; i++) {
        if (cookies[i] == NULL)
            continue;
        if (sticky_cookie_value(cookies[i], cookie_lens[i], b->sticky_cookie,
                                &out->value, &out->value_len)) {
            split_route(b, out);
            return true;
        }
    }

    out->value = NULL;
    out->value_len = 0;
    return false;
}

static bool route_is(const char *member_route, const char *route,
                     size_t route_len)
{
    return member_route != NULL && member_route[0] != '\0'
           && strlen(member_route) == route_len
           && memcmp(member_route, route, route_len) == 0;
}

/*
 * Apache's find_route_worker: members that are not hot standbys first,
 * then the hot standbys; the first usable member with the route wins. An
 * unusable one with redirect= hands over to the member of that route if
 * it is usable; otherwise the search goes on among the others with the
 * same route. Redirects are followed at most once per member, which is
 * how Apache stops cycles. Disabled (D) members are unusable here too:
 * in Apache 2.4 "D" refuses sticky requests as well, and only drain (N)
 * keeps them.
 */
static struct member *find_route(struct balancer *b, const char *route,
                                 size_t route_len, int64_t now_ms,
                                 size_t depth, struct member **named)
{
    int pass;
    size_t i;

    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < b->nmembers; i++) {
            struct member *m = b->members[i];
            bool standby = atomic_load(&m->status) & MEMBER_HOT_STANDBY;
            struct member *r;

            if (standby != (pass == 1))
                continue;
            if (!route_is(m->route, route, route_len))
                continue;
            if (named != NULL && *named == NULL)
                *named = m;
            if (member_is_usable(m, now_ms))
                return m;
            if (m->redirect == NULL || m->redirect[0] == '\0'
                || depth >= b->nmembers)
                continue;

            r = find_route(b, m->redirect, strlen(m->redirect), now_ms,
                           depth + 1, NULL);
            if (r != NULL)
                return r;
        }
    }
    return NULL;
}

struct member *sticky_route_member(struct balancer *b, const char *route,
                                   size_t route_len, int64_t now_ms,
                                   enum pick_reason *reason,
                                   struct member **named)
{
    struct member *m;

    *reason = PICK_NONE;
    *named = NULL;
    if (route == NULL || route_len == 0)
        return NULL;

    /* Apache forces recovery before it looks for the route. */
    balancer_force_recovery(b, now_ms);

    m = find_route(b, route, route_len, now_ms, 0, named);
    if (m == NULL)
        return NULL;

    *reason = route_is(m->route, route, route_len) ? PICK_STICKY
                                                   : PICK_REDIRECT;
    lbmethod_note_sticky(b, m);
    atomic_fetch_add(&m->elected, 1);
    return m;
}

bool sticky_sets_cookie(const struct balancer *b, const char *value,
                        size_t value_len)
{
    size_t start = 0, end;
    const char *eq;

    if (b->sticky_cookie == NULL)
        return false;

    while (start < value_len && is_space(value[start]))
        start++;
    eq = memchr(value + start, '=', value_len - start);
    if (eq == NULL)
        return false;

    end = (size_t)(eq - value);
    while (end > start && is_space(value[end - 1]))
        end--;
    return end - start == strlen(b->sticky_cookie)
           && memcmp(value + start, b->sticky_cookie, end - start) == 0;
}

/* xorshift64*, one state per thread, seeded from the kernel. Session
 * tags need to be unlikely to collide, not secret: the route in them is
 * plain text anyway. */
static uint64_t random_u64(void)
{
    static __thread uint64_t state;
    uint64_t x;

    if (state == 0) {
        if (getrandom(&state, sizeof(state), 0) != sizeof(state)
            || state == 0) {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            state = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec
                    ^ (uint64_t)(uintptr_t)&state;
            if (state == 0)
                state = 0x9e3779b97f4a7c15ull;
        }
    }

    x = state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state = x;
    return x * 0x2545f4914f6cdd1dull;
}

int sticky_make_cookie(const struct balancer *b, const struct member *m,
                       bool secure, char *buf, size_t size)
{
    const char *route = m->route ? m->route : "";
    int len;

    if (b->sticky_cookie == NULL)
        return -1;

    /* With stickysessionsep=Off the whole value is the route. */
    if (b->sticky_sep == '\0')
        len = snprintf(buf, size, "%s=%s; Path=/; HttpOnly%s",
                       b->sticky_cookie, route, secure ? "; Secure" : "");
    else
        len = snprintf(buf, size, "%s=%016llx%c%s; Path=/; HttpOnly%s",
                       b->sticky_cookie, (unsigned long long)random_u64(),
                       b->sticky_sep, route, secure ? "; Secure" : "");

    if (len < 0 || (size_t)len >= size)
        return -1;
    return len;
}
