/*
 * fuzz_sticky.c - libFuzzer target for the sticky route readers: the
 * Cookie header and URL parameter parsers, sticky_find over several
 * Cookie headers, sticky_route_member and sticky_sets_cookie.
 *
 * Input: one flags byte (bit 0 scolonpathdelim, bits 1-2 the separator:
 * '.', '_', '~' or Off, bit 3 a "COOKIE|param" balancer), then parts
 * split by '\n': the request-target first, then one Cookie header value
 * per part (at most 8). Each part is copied to a buffer of its exact size,
 * so AddressSanitizer catches any read past its end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balancer.h"
#include "log.h"
#include "sticky.h"

#define MAX_COOKIES 8

static struct balancer *balancer;

static struct member *new_member(const char *route, const char *redirect,
                                 unsigned status)
{
    struct member *m = calloc(1, sizeof(*m));

    m->name = strdup("http://127.0.0.1:1");
    m->route = strdup(route);
    m->redirect = strdup(redirect);
    m->loadfactor = 100;
    m->retry_ms = 60000;
    m->initial_status = status;
    return m;
}

static void make_balancer(void)
{
    struct balancer *b = calloc(1, sizeof(*b));

    b->name = strdup("balancer://fuzz");
    b->sticky_cookie = strdup("BALANCEID");
    b->sticky_sep = '.';
    b->forcerecovery = true;
    b->nmembers = 5;
    b->members = calloc(b->nmembers, sizeof(*b->members));
    b->members[0] = new_member("s1", "", 0);
    b->members[1] = new_member("s2", "s1", MEMBER_DISABLED);
    b->members[2] = new_member("a", "b", MEMBER_STOPPED);
    b->members[3] = new_member("b", "a", MEMBER_DISABLED);
    b->members[4] = new_member("s1", "", MEMBER_HOT_STANDBY);
    balancer_init_runtime(b);
    balancer = b;
}

static char *copy_part(const uint8_t *data, size_t len)
{
    char *p = malloc(len ? len : 1);

    if (len)
        memcpy(p, data, len);
    return p;
}

static void check_value(const char *base, size_t base_len,
                        const char *value, size_t value_len)
{
    /* Whatever a parser returns lies inside its input. */
    if (value < base || value + value_len > base + base_len)
        abort();
}

static void fuzz_parsers(const char *target, size_t target_len,
                         char **cookies, size_t *lens, size_t n)
{
    const char *value;
    size_t value_len, i;

    if (sticky_url_param(target, target_len, "BALANCEID", true, &value,
                         &value_len))
        check_value(target, target_len, value, value_len);
    if (sticky_url_param(target, target_len, "jsessionid", false, &value,
                         &value_len))
        check_value(target, target_len, value, value_len);

    for (i = 0; i < n; i++) {
        if (sticky_cookie_value(cookies[i], lens[i], "BALANCEID", &value,
                                &value_len))
            check_value(cookies[i], lens[i], value, value_len);
        sticky_sets_cookie(balancer, cookies[i], lens[i]);
    }
}

static void fuzz_find(const char *target, size_t target_len,
                      char **cookies, size_t *lens, size_t n)
{
    struct sticky_value v;
    enum pick_reason reason;
    struct member *named;

    if (!sticky_find(balancer, target, target_len,
                     (const char *const *)cookies, lens, n, &v))
        return;
    if (v.route != NULL && (v.route < v.value
                            || v.route + v.route_len
                               > v.value + v.value_len))
        abort();
    if (v.route != NULL)
        sticky_route_member(balancer, v.route, v.route_len,
                            balancer_now_ms(), &reason, &named);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seps[] = { '.', '_', '~', '\0' };
    char *parts[MAX_COOKIES + 1];
    size_t lens[MAX_COOKIES + 1];
    size_t nparts = 0, start = 1, i;

    if (balancer == NULL) {
        log_current_level = LOG_LEVEL_EMERG;
        make_balancer();
    }
    if (size == 0)
        return 0;

    balancer->scolonpathdelim = data[0] & 1;
    balancer->sticky_sep = seps[(data[0] >> 1) & 3];
    free(balancer->sticky_param);
    balancer->sticky_param = (data[0] & 8) ? strdup("jsessionid") : NULL;

    for (i = 1; i <= size && nparts <= MAX_COOKIES; i++) {
        if (i == size || data[i] == '\n') {
            parts[nparts] = copy_part(data + start, i - start);
            lens[nparts] = i - start;
            nparts++;
            start = i + 1;
        }
    }

    fuzz_parsers(parts[0], lens[0], parts + 1, lens + 1, nparts - 1);
    fuzz_find(parts[0], lens[0], parts + 1, lens + 1, nparts - 1);

    for (i = 0; i < nparts; i++)
        free(parts[i]);
    return 0;
}
