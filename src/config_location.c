/*
 * config_location.c - <Location PATH> sections and the directives that
 * may appear inside: SetHandler and Require (see location.h for what
 * they mean), and the address ranges of "Require ip".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "handler.h"
#include "location.h"
#include "mapping.h"

void location_free_all(struct location *list, size_t n)
{
    size_t i, j;

    for (i = 0; list != NULL && i < n; i++) {
        for (j = 0; j < list[i].nrequires; j++)
            free(list[i].requires[j].ranges);
        free(list[i].requires);
        free(list[i].path);
        free(list[i].handler);
    }
    free(list);
}

/* ---- address ranges ---------------------------------------------- */

static void prefix_mask(uint8_t *mask, size_t bytes, long bits)
{
    size_t i;

    memset(mask, 0, bytes);
    for (i = 0; i < bytes && bits > 0; i++, bits -= 8)
        mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
}

/* "10", "10.1", "10.1.2": Apache's partial address, the leading bytes. */
static int parse_partial_v4(const char *text, struct ip_range *out)
{
    const char *s = text;
    int parts = 0;

    memset(out, 0, sizeof(*out));
    out->family = AF_INET;
    while (*s != '\0' && parts < 4) {
        long v = 0;
        int digits = 0;

        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (digits == 0 || v > 255)
            return -1;
        out->addr[parts] = (uint8_t)v;
        out->mask[parts++] = 0xff;
        if (*s == '.')
            s++;
        else if (*s != '\0')
            return -1;
    }
    return *s == '\0' && parts > 0 ? 0 : -1;
}

int location_parse_range(const char *text, struct ip_range *out,
                         const char **why)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text), i, bytes;
    long bits;

    *why = "expected an address, a partial IPv4 address (10.1), "
           "NET/BITS or NET/MASK";
    if (len == 0 || len >= sizeof(addr))
        return -1;
    memcpy(addr, text, len);
    addr[len] = '\0';
    memset(out, 0, sizeof(*out));

    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = AF_INET;
        bytes = 4;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = AF_INET6;
        bytes = 16;
    } else {
        return slash == NULL ? parse_partial_v4(text, out) : -1;
    }

    if (slash == NULL) {
        prefix_mask(out->mask, bytes, (long)bytes * 8);
    } else if (config_parse_number(slash + 1, 0, (long)bytes * 8,
                                   &bits) == 0) {
        prefix_mask(out->mask, bytes, bits);
    } else if (out->family == AF_INET &&
               inet_pton(AF_INET, slash + 1, out->mask) == 1) {
        /* NET/255.255.0.0 */
    } else {
        *why = out->family == AF_INET
               ? "expected /BITS (0 to 32) or /MASK after the network"
               : "expected /BITS (0 to 128) after the network";
        return -1;
    }
    for (i = 0; i < bytes; i++)
        out->addr[i] &= out->mask[i];
    return 0;
}

bool location_range_has(const struct ip_range *r, const char *ip)
{
    uint8_t a[16];
    const uint8_t *p = a;
    size_t i, n = r->family == AF_INET ? 4 : 16;
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0xff, 0xff };

    if (inet_pton(AF_INET, ip, a) == 1) {
        if (r->family != AF_INET)
            return false;
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        if (r->family == AF_INET) {
            if (memcmp(a, mapped, sizeof(mapped)) != 0)
                return false;
            p = a + 12;
        }
    } else {
        return false;
    }
    for (i = 0; i < n; i++)
        if ((p[i] & r->mask[i]) != r->addr[i])
            return false;
    return true;
}

bool location_path_matches(const char *location, const char *path,
                           size_t path_len)
{
    size_t a = 0, u = 0;

    while (location[a] != '\0') {
        if (u >= path_len)
            return false;
        if (location[a] == '/') {
            if (path[u] != '/')
                return false;
            while (location[a] == '/')
                a++;
            while (u < path_len && path[u] == '/')
                u++;
            continue;
        }
        if (location[a++] != path[u++])
            return false;
    }
    return a > 0 && (location[a - 1] == '/' || u == path_len ||
                     path[u] == '/');
}

/* ---- the section and its directives -------------------------------- */

static struct location *current(struct parser *p)
{
    struct section *s = config_enclosing(p);

    return &p->cfg->locations[s->location];
}

int config_open_location(struct parser *p, int argc, char **argv)
{
    struct config *c = p->cfg;
    struct location *list;
    enum place place = config_current_place(p);

    p->directive = "<Location>";
    if (place != IN_MAIN && place != IN_VHOST)
        return fail(p, "<Location> is not allowed %s",
                    config_place_name(place));
    if (argc != 1)
        return fail(p, "<Location>: expected <Location /PATH>, found %d "
                    "arguments", argc);
    if (strcmp(argv[0], "~") == 0 || argv[0][0] != '/')
        return fail(p, "<Location>: expected a path starting with '/', "
                    "found '%s' (regular expressions are not supported "
                    "yet)", argv[0]);
    if (strpbrk(argv[0], "*?[") != NULL)
        return fail(p, "<Location %s>: wildcards are not supported yet: "
                    "expected a plain path", argv[0]);

    list = config_grow(c->locations, c->nlocations, sizeof(*list));
    if (list == NULL)
        return config_fail_oom(p);
    c->locations = list;
    list[c->nlocations].path = strdup(argv[0]);
    if (list[c->nlocations].path == NULL)
        return config_fail_oom(p);
    list[c->nlocations].file = p->file;
    list[c->nlocations].line = p->line;
    c->nlocations++;
    return config_push_location(p, c->nlocations - 1);
}

int config_do_set_handler(struct parser *p, int argc, char **argv)
{
    struct location *l = current(p);

    if (strcasecmp(argv[0], "none") == 0) {
        free(l->handler);
        l->handler = NULL;
        l->handler_none = true;
        return 0;
    }
    if (handler_find(argv[0]) == NULL)
        return fail(p, "SetHandler: unknown handler '%s' (expected one "
                    "of: %s, None)", argv[0], handler_names());
    free(l->handler);
    l->handler = strdup(argv[0]);
    l->handler_none = false;
    return l->handler == NULL ? config_fail_oom(p) : 0;
}

static int add_require(struct parser *p, struct require *r)
{
    struct location *l = current(p);
    struct require *list = config_grow(l->requires, l->nrequires,
                                       sizeof(*list));

    if (list == NULL) {
        free(r->ranges);
        return config_fail_oom(p);
    }
    l->requires = list;
    list[l->nrequires++] = *r;
    return 0;
}

static int require_ip(struct parser *p, int argc, char **argv)
{
    struct require r = { REQUIRE_IP, NULL, 0 };
    const char *why;
    int i;

    if (argc < 2)
        return fail(p, "Require ip: expected one or more addresses or "
                    "networks, found none");
    r.ranges = calloc((size_t)argc - 1, sizeof(*r.ranges));
    if (r.ranges == NULL)
        return config_fail_oom(p);
    for (i = 1; i < argc; i++) {
        if (location_parse_range(argv[i], &r.ranges[i - 1], &why) < 0) {
            free(r.ranges);
            return fail(p, "Require ip: %s, found '%s'", why, argv[i]);
        }
    }
    r.nranges = (size_t)argc - 1;
    return add_require(p, &r);
}

/*
 * Require all granted|denied, Require local, Require ip ... . The other
 * providers (host, user, valid-user, env, method, expr) and "Require
 * not" (meaningful only inside <RequireAll>) are refused.
 */
int config_do_require(struct parser *p, int argc, char **argv)
{
    struct require r = { REQUIRE_ALL_GRANTED, NULL, 0 };
    const char *type = argv[0];

    if (strcasecmp(type, "ip") == 0)
        return require_ip(p, argc, argv);
    if (strcasecmp(type, "local") == 0) {
        if (argc != 1)
            return fail(p, "Require local: expected nothing after "
                        "'local', found '%s'", argv[1]);
        r.kind = REQUIRE_LOCAL;
        return add_require(p, &r);
    }
    if (strcasecmp(type, "all") == 0) {
        if (argc != 2 || (strcasecmp(argv[1], "granted") != 0 &&
                          strcasecmp(argv[1], "denied") != 0))
            return fail(p, "Require all: expected 'granted' or 'denied', "
                        "found '%s'", argc > 1 ? argv[1] : "");
        r.kind = strcasecmp(argv[1], "granted") == 0 ? REQUIRE_ALL_GRANTED
                                                      : REQUIRE_ALL_DENIED;
        return add_require(p, &r);
    }
    if (strcasecmp(type, "not") == 0)
        return fail(p, "Require not: negation needs <RequireAll>, which is "
                    "not supported yet");
    return fail(p, "Require %s is not supported yet (supported: Require "
                "all granted|denied, Require local, Require ip ADDR|NET "
                "...)", type);
}

/*
 * A handler under a ProxyPass prefix is never reached: the ProxyPass
 * wins, as in Apache, where the guide's "ProxyPass / balancer://..."
 * proxies /balancer-manager too unless "ProxyPass /balancer-manager !"
 * comes first. Say so at start-up rather than let it puzzle.
 */
void config_check_locations(struct parser *p)
{
    const struct config *c = p->cfg;
    const struct proxy_pass *pass;
    size_t i;

    for (i = 0; i < c->nlocations; i++) {
        const struct location *l = &c->locations[i];

        if (l->handler == NULL)
            continue;
        pass = mapping_find(c, l->path, strlen(l->path));
        if (pass != NULL)
            log_msg(LOG_LEVEL_WARN, "config", "%s:%d: <Location %s> "
                    "(SetHandler %s) is shadowed by ProxyPass %s %s, "
                    "which comes first and proxies it; put "
                    "\"ProxyPass %s !\" before it", l->file, l->line,
                    l->path, l->handler, pass->path, pass->url, l->path);
    }
}

void config_free_words(char **words)
{
    size_t i;

    for (i = 0; words != NULL && words[i] != NULL; i++)
        free(words[i]);
    free(words);
}

/*
 * BalancerSessionCookies NAME ... | None (ours): the cookies that mark an
 * application session, for the stickiness diagnosis (diagnose.h).
 */
int config_do_session_cookies(struct parser *p, int argc, char **argv)
{
    char **names;
    int i, n = 0;

    if (argc == 1 && strcasecmp(argv[0], "none") == 0)
        argc = 0;
    names = calloc((size_t)argc + 1, sizeof(*names));
    if (names == NULL)
        return config_fail_oom(p);
    for (i = 0; i < argc; i++) {
        if (argv[i][0] == '\0' || strpbrk(argv[i], "=;,\" \t") != NULL) {
            config_free_words(names);
            return fail(p, "BalancerSessionCookies: expected cookie names "
                        "or None, found '%s'", argv[i]);
        }
        names[n] = strdup(argv[i]);
        if (names[n++] == NULL) {
            config_free_words(names);
            return config_fail_oom(p);
        }
    }
    config_free_words(p->cfg->session_cookies);
    p->cfg->session_cookies = names;
    return 0;
}
