/*
 * config_limits.c - the directives of client limits (client_limits.h):
 * KeepAlive, KeepAliveTimeout, MaxKeepAliveRequests, LimitRequestBody,
 * RequestReadTimeout and MaxClients (alias MaxRequestWorkers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

int config_do_keepalive(struct parser *p, int argc, char **argv)
{
    if (config_parse_on_off(argv[0], &p->cfg->client.keepalive) < 0)
        return fail(p, "KeepAlive: expected On or Off, found '%s'",
                    argv[0]);
    return 0;
}

int config_do_keepalive_timeout(struct parser *p, int argc, char **argv)
{
    if (config_parse_seconds(argv[0], 1,
                             &p->cfg->client.keepalive_timeout_ms) < 0)
        return fail(p, "KeepAliveTimeout: expected whole seconds from 1 "
                    "to 86400, found '%s'", argv[0]);
    return 0;
}

int config_do_max_keepalive_requests(struct parser *p, int argc,
                                     char **argv)
{
    long v;

    if (config_parse_number(argv[0], 0, 1000000000, &v) < 0)
        return fail(p, "MaxKeepAliveRequests: expected a number of "
                    "requests (0: unlimited), found '%s'", argv[0]);
    p->cfg->client.max_keepalive_requests = (int)v;
    return 0;
}

/* Apache: 0 (unlimited) to 2147483647 bytes. */
int config_do_limit_request_body(struct parser *p, int argc, char **argv)
{
    long v;

    if (config_parse_number(argv[0], 0, 2147483647L, &v) < 0)
        return fail(p, "LimitRequestBody: expected bytes from 0 "
                    "(unlimited) to 2147483647, found '%s'", argv[0]);
    p->cfg->client.max_body = (uint64_t)v;
    return 0;
}

int config_do_request_read_timeout(struct parser *p, int argc, char **argv)
{
    char err[200];
    int i;

    for (i = 0; i < argc; i++) {
        if (limits_parse_read_timeout(argv[i], &p->cfg->client, err,
                                      sizeof(err)) < 0)
            return fail(p, "RequestReadTimeout: %s", err);
    }
    return 0;
}

/* Ours: the most client connections open at once (all workers
 * together); more wait in the listen queue. Apache's MaxRequestWorkers
 * (formerly MaxClients) is read as the same. */
int config_do_max_clients(struct parser *p, int argc, char **argv)
{
    long v;

    if (config_parse_number(argv[0], 0, 10000000, &v) < 0)
        return fail(p, "%s: expected a number of connections (0: no "
                    "limit), found '%s'", p->directive, argv[0]);
    p->cfg->client.max_clients = (int)v;
    return 0;
}
