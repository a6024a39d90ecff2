/*
 * manager.c - the balancer-manager: an HTML page as Apache's
 * mod_proxy_balancer shows it, and the same state and changes as JSON.
 *
 * Reading. GET PATH shows every named balancer and its members; GET
 * PATH?b=NAME&nonce=N adds the balancer's form, and &w=URL a member's
 * form. PATH?format=json or PATH/api (any method) answers JSON instead
 * of HTML.
 *
 * Changing. A POST whose parameters (query, form body, or a JSON object
 * body) hold a change: Apache's names w_lf (loadfactor), w_ls (lbset),
 * w_wr (route), w_rr (redirect), w_status_I / _N / _D / _S / _H (0 or 1)
 * for the member named by w in the balancer named by b, and b_lbm
 * (lbmethod), b_tmo (timeout, seconds), b_max (failover attempts),
 * b_sforce (disable failover, i.e. nofailover) for the balancer. JSON
 * bodies may also say balancer, member, loadfactor, lbset, route,
 * redirect, status ("+D-N" as in status=), lbmethod, timeout,
 * maxattempts, nofailover.
 *
 * The nonce. As in Apache, each balancer has a random nonce shown on the
 * page; a change must carry it (nonce=), so that another web page cannot
 * make a visitor's browser change the balancer (CSRF). Apache silently
 * ignores the parameters of a request whose nonce is missing or wrong and
 * shows the page; we refuse it with 400 and say why, so a script learns
 * that nothing changed. Changes need POST: a GET with change parameters
 * gets 405 (Apache 2.4 also accepts only selection parameters by GET).
 *
 * Taking effect. Status flags are atomics: every worker thread sees a
 * change at its next decision. loadfactor and lbset are ints written
 * under the balancer's lock (persist.c reads them under it; lbmethod
 * reads them as plain ints, which on our platforms see the old or the new
 * value). route and redirect strings are replaced, never written in
 * place: the new string is published with a release store under the
 * lock, and the old one is kept (retired_strings) until the process
 * exits, because a worker thread may be reading it without the lock.
 * Changes are operator actions, so what is kept is small.
 */
#include "manager.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "balancer.h"
#include "config.h"
#include "health.h"
#include "lbmethod.h"
#include "log.h"

#include "persist.h"

#ifndef BALANCER_VERSION
#define BALANCER_VERSION "unknown"
#endif

#define MAX_ROUTE 63            /* Apache's route field holds 64 with NUL */
#define MAX_PARAM 1024

/* The status flags the manager changes: I N D S H. */
#define MEMBER_ADMIN_MASK (MEMBER_IGNORE_ERRORS | MEMBER_DRAIN |         \
                           MEMBER_DISABLED | MEMBER_STOPPED |            \
                           MEMBER_HOT_STANDBY)

/* The status flags the manager sets, with Apache's form names. */
static const struct {
    char letter;
    unsigned flag;
    const char *label;
} admin_flags[] = {
    { 'I', MEMBER_IGNORE_ERRORS, "Ignore Errors" },
    { 'N', MEMBER_DRAIN, "Draining Mode" },
    { 'D', MEMBER_DISABLED, "Disabled" },
    { 'S', MEMBER_STOPPED, "Stopped" },
    { 'H', MEMBER_HOT_STANDBY, "Hot Standby" },
};

#define NADMIN_FLAGS (sizeof(admin_flags) / sizeof(admin_flags[0]))

/* ---- old route strings ---------------------------------------------- */

static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static char **retired_strings;
static size_t nretired;

/* Keep s (no longer published) alive: a reader may still hold it. */
static void retire(char *s)
{
    char **list;

    pthread_mutex_lock(&retired_lock);
    list = realloc(retired_strings, (nretired + 1) * sizeof(*list));
    if (list != NULL) {
        retired_strings = list;
        retired_strings[nretired++] = s;
    }
    /* When even this fails the string leaks, which is still safe. */
    pthread_mutex_unlock(&retired_lock);
}

/* ---- parameters ------------------------------------------------------ */

/* Where a request's parameters come from: a JSON body wins, then the
 * form body, then the query. */
struct params {
    const char *query;
    size_t query_len;
    const char *form;
    size_t form_len;
    struct json_object *json;
};

/* JSON names that stand for Apache's parameter names. */
static const char *const json_aliases[][2] = {
    { "balancer", "b" }, { "member", "w" }, { "loadfactor", "w_lf" },
    { "lbset", "w_ls" }, { "route", "w_wr" }, { "redirect", "w_rr" },
    { "status", "w_status" }, { "lbmethod", "b_lbm" },
    { "timeout", "b_tmo" }, { "maxattempts", "b_max" },
    { "nofailover", "b_sforce" },
};

static int json_param(struct json_object *o, const char *name, char *buf,
                      size_t size)
{
    struct json_object *v = NULL;
    const char *text;
    size_t i;

    if (!json_object_object_get_ex(o, name, &v)) {
        for (i = 0; i < sizeof(json_aliases) / sizeof(json_aliases[0]);
             i++)
            if (strcmp(json_aliases[i][1], name) == 0 &&
                json_object_object_get_ex(o, json_aliases[i][0], &v))
                break;
    }
    if (v == NULL)
        return -1;
    if (json_object_is_type(v, json_type_boolean))
        text = json_object_get_boolean(v) ? "1" : "0";
    else
        text = json_object_get_string(v);
    if (text == NULL || strlen(text) >= size)
        return -2;
    strcpy(buf, text);
    return (int)strlen(buf);
}

/* Parameter name into buf: its length, -1 when absent, -2 when bad. */
static int param(const struct params *p, const char *name, char *buf,
                 size_t size)
{
    int n = -1;

    if (p->json != NULL)
        n = json_param(p->json, name, buf, size);
    if (n == -1 && p->form != NULL)
        n = handler_form_value(p->form, p->form_len, name, buf, size);
    if (n == -1)
        n = handler_form_value(p->query, p->query_len, name, buf, size);
    return n;
}

static bool has_param(const struct params *p, const char *name)
{
    char buf[MAX_PARAM];

    return param(p, name, buf, sizeof(buf)) != -1;
}

static const char *const member_changes[] = {
    "w_lf", "w_ls", "w_wr", "w_rr", "w_status", "w_status_I",
    "w_status_N", "w_status_D", "w_status_S", "w_status_H", NULL
};

static const char *const balancer_changes[] = {
    "b_lbm", "b_tmo", "b_max", "b_sforce", NULL
};

static bool any_param(const struct params *p, const char *const *names)
{
    for (; *names != NULL; names++)
        if (has_param(p, *names))
            return true;
    return false;
}

/* ---- finding what a request names ------------------------------------ */

static struct balancer *find_balancer(const struct config *c,
                                      const char *name)
{
    char full[MAX_PARAM + 16];
    struct balancer *b;

    if (strncasecmp(name, "balancer://", 11) == 0)
        snprintf(full, sizeof(full), "%s", name);
    else
        snprintf(full, sizeof(full), "balancer://%s", name);
    b = config_find_balancer(c, full);
    return b != NULL && !b->anonymous ? b : NULL;
}

static struct member *find_member(struct balancer *b, const char *url)
{
    size_t i, len = strlen(url);

    while (len > 0 && url[len - 1] == '/')
        len--;
    for (i = 0; i < b->nmembers; i++)
        if (strlen(b->members[i]->name) == len &&
            strncasecmp(b->members[i]->name, url, len) == 0)
            return b->members[i];
    return NULL;
}

/* The part of the balancer name after "balancer://". */
static const char *short_name(const struct balancer *b)
{
    return strncmp(b->name, "balancer://", 11) == 0 ? b->name + 11
                                                      : b->name;
}

/* ---- reading state ---------------------------------------------------- */

/* A member's strings and numbers copied under the balancer's lock. */
struct member_view {
    char route[MAX_ROUTE + 1];
    char redirect[MAX_ROUTE + 1];
    int loadfactor;
    int lbset;
};

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static void view_member(struct balancer *b, const struct member *m,
                        struct member_view *v)
{
    pthread_mutex_lock(&b->lock);
    copy_text(v->route, sizeof(v->route), m->route);
    copy_text(v->redirect, sizeof(v->redirect), m->redirect);
    v->loadfactor = m->loadfactor;
    v->lbset = m->lbset;
    pthread_mutex_unlock(&b->lock);
}

static const char *lbmethod_text(const struct balancer *b)
{
    const struct lbmethod_ops *ops = lbmethod_ops(b->lbmethod);

    return ops != NULL ? ops->name : "?";
}

/* "Up", "Down (...)" or "-" for a member without health checks. */
static void health_text(const struct member *m, char *buf, size_t size)
{
    unsigned status = atomic_load(&m->status);
    const char *cause = atomic_load(&m->hc_last_cause);
    int last = atomic_load(&m->hc_last_status);

    if (m->hc.method == HC_METHOD_NONE) {
        snprintf(buf, size, "-");
        return;
    }
    if (atomic_load(&m->hc_last_check_ms) == 0) {
        snprintf(buf, size, "%s, not checked yet",
                 status & MEMBER_HC_FAILED ? "Down" : "Unknown");
        return;
    }
    snprintf(buf, size, "%s (%s%s%.0d, %d failed, %d passed in a row)",
             status & MEMBER_HC_FAILED ? "Down" : "Up",
             cause != NULL ? cause : "?", last ? ", status " : "", last,
             atomic_load(&m->hc_consecutive_fails),
             atomic_load(&m->hc_consecutive_passes));
}

/* The ProxyPass path of b, for the page; "" when none. */
static const char *pass_path(const struct config *c,
                             const struct balancer *b)
{
    size_t i;

    for (i = 0; i < c->npasses; i++)
        if (c->passes[i].balancer == b)
            return c->passes[i].path;
    return "";
}

/* ---- JSON -------------------------------------------------------------- */

static void json_add(struct json_object *o, const char *key,
                     struct json_object *v)
{
    json_object_object_add(o, key, v);
}

static struct json_object *member_json(struct balancer *b,
                                       const struct member *m)
{
    struct json_object *o = json_object_new_object();
    struct json_object *flags = json_object_new_object();
    struct member_view v;
    unsigned status = atomic_load(&m->status);
    char text[256];
    size_t i;

    view_member(b, m, &v);
    json_add(o, "name", json_object_new_string(m->name));
    json_add(o, "route", json_object_new_string(v.route));
    json_add(o, "redirect", json_object_new_string(v.redirect));
    json_add(o, "loadfactor", json_object_new_double(v.loadfactor / 100.0));
    json_add(o, "lbset", json_object_new_int(v.lbset));
    member_status_string(status, text, sizeof(text));
    json_add(o, "status", json_object_new_string(text));
    for (i = 0; i < NADMIN_FLAGS; i++) {
        char key[2] = { admin_flags[i].letter, '\0' };

        json_add(flags, key, json_object_new_boolean(
                     (status & admin_flags[i].flag) != 0));
    }
    json_add(flags, "E", json_object_new_boolean(
                 (status & MEMBER_IN_ERROR) != 0));
    json_add(flags, "C", json_object_new_boolean(
                 (status & MEMBER_HC_FAILED) != 0));
    json_add(o, "flags", flags);
    health_text(m, text, sizeof(text));
    json_add(o, "health", json_object_new_string(text));
    json_add(o, "hc_method", json_object_new_string(
                 hc_method_name(m->hc.method)));
    json_add(o, "elected", json_object_new_int64(
                 (int64_t)atomic_load(&m->elected)));
    json_add(o, "busy", json_object_new_int64(atomic_load(&m->busy)));
    json_add(o, "errors", json_object_new_int64(
                 (int64_t)atomic_load(&m->errors)));
    json_add(o, "bytes_to", json_object_new_int64(
                 (int64_t)atomic_load(&m->bytes_out)));
    json_add(o, "bytes_from", json_object_new_int64(
                 (int64_t)atomic_load(&m->bytes_in)));
    return o;
}

static struct json_object *balancer_json(const struct config *c,
                                         struct balancer *b)
{
    struct json_object *o = json_object_new_object();
    struct json_object *members = json_object_new_array();
    struct json_object *sticky = json_object_new_object();
    size_t i;

    json_add(o, "name", json_object_new_string(b->name));
    json_add(o, "nonce", json_object_new_string(b->nonce));
    json_add(o, "lbmethod", json_object_new_string(lbmethod_text(b)));
    json_add(o, "stickysession", b->sticky_cookie || b->sticky_param
             ? json_object_new_string(b->sticky_cookie ? b->sticky_cookie
                                                       : b->sticky_param)
             : NULL);
    json_add(o, "nofailover", json_object_new_boolean(b->nofailover));
    json_add(o, "timeout", json_object_new_int(b->timeout_ms / 1000));
    json_add(o, "maxattempts", json_object_new_int(b->maxattempts));
    json_add(o, "path", json_object_new_string(pass_path(c, b)));
    json_add(sticky, "hits", json_object_new_int64(
                 (int64_t)atomic_load(&b->sticky_hits)));
    json_add(sticky, "misses", json_object_new_int64(
                 (int64_t)atomic_load(&b->sticky_misses)));
    /* The names the dashboard's JSON and the metrics use, too. */
    json_add(sticky, "session_only", json_object_new_int64(
                 (int64_t)atomic_load(&b->sticky_session_only)));
    json_add(sticky, "unknown_route", json_object_new_int64(
                 (int64_t)atomic_load(&b->sticky_unknown_route)));
    json_add(sticky, "failovers", json_object_new_int64(
                 (int64_t)atomic_load(&b->sticky_failovers)));
    json_add(sticky, "cookie_lost", json_object_new_int64(
                 (int64_t)atomic_load(&b->sticky_cookie_lost)));
    json_add(o, "sticky", sticky);
    for (i = 0; i < b->nmembers; i++)
        json_object_array_add(members, member_json(b, b->members[i]));
    json_add(o, "members", members);
    return o;
}

static void put_json(struct handler_response *rs, struct json_object *o)
{
    const char *text = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

    rs->content_type = "application/json";
    if (text == NULL)
        rs->body.failed = true;
    else
        hbuf_puts(&rs->body, text);
    hbuf_puts(&rs->body, "\n");
    json_object_put(o);
}

static void state_json(const struct config *c, struct handler_response *rs,
                       const char *changed)
{
    struct json_object *o = json_object_new_object();
    struct json_object *list = json_object_new_array();
    size_t i;

    json_add(o, "server", json_object_new_string(c->server_name));
    json_add(o, "version", json_object_new_string(BALANCER_VERSION));
    if (changed != NULL)
        json_add(o, "changed", json_object_new_string(changed));
    for (i = 0; i < c->nbalancers; i++)
        if (!c->balancers[i]->anonymous)
            json_object_array_add(list, balancer_json(c, c->balancers[i]));
    json_add(o, "balancers", list);
    put_json(rs, o);
}

static void error_json(struct handler_response *rs, int status,
                       const char *message)
{
    struct json_object *o = json_object_new_object();

    rs->status = status;
    rs->body.len = 0;
    json_add(o, "error", json_object_new_string(message));
    put_json(rs, o);
}

/* ---- changes ----------------------------------------------------------- */

/* A change checked and ready to apply; -1 fields are unchanged. */
struct change {
    struct balancer *b;
    struct member *m;
    int loadfactor, lbset;
    char *route, *redirect;     /* malloc'd, NULL: unchanged */
    unsigned set_flags, clear_flags;
    int lbmethod, timeout_ms, maxattempts, nofailover;
    char why[512];              /* what was wrong */
    char done[512];             /* what changed, for logs and the page */
};

/* "1" to "100" with at most two decimals, as loadfactor=. x 100. */
static int parse_factor(const char *s, int *out)
{
    long whole = 0, frac = 0;
    int digits = 0, fdigits = 0;

    for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
        whole = whole * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9' && fdigits < 2; s++, fdigits++)
            frac = frac * 10 + (*s - '0');
    if (fdigits == 1)
        frac *= 10;
    if (digits == 0 || *s != '\0' || whole * 100 + frac < 100 ||
        whole * 100 + frac > 10000)
        return -1;
    *out = (int)(whole * 100 + frac);
    return 0;
}

static int parse_int(const char *s, long min, long max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* A route or redirect: up to 63 visible ASCII bytes a cookie value may
 * hold (no space, '"', ',', ';', '\\'); "" clears it. */
static int parse_route(const char *s, char **out)
{
    size_t i, n = strlen(s);

    if (n > MAX_ROUTE)
        return -1;
    for (i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || strchr("\",;\\", s[i]) != NULL)
            return -1;
    *out = strdup(s);
    return *out == NULL ? -1 : 0;
}

static int bad(struct change *ch, const char *fmt, const char *value)
{
    char shown[101];
    size_t n = strnlen(value, sizeof(shown) - 1);

    memcpy(shown, value, n);
    shown[n] = '\0';
    snprintf(ch->why, sizeof(ch->why), fmt, shown);
    return -1;
}

static int check_flags(const struct params *p, struct change *ch)
{
    char buf[MAX_PARAM], name[16];
    const char *error;
    size_t i;

    for (i = 0; i < NADMIN_FLAGS; i++) {
        snprintf(name, sizeof(name), "w_status_%c", admin_flags[i].letter);
        if (param(p, name, buf, sizeof(buf)) < 0)
            continue;
        if (strcmp(buf, "1") == 0 || strcasecmp(buf, "true") == 0)
            ch->set_flags |= admin_flags[i].flag;
        else if (strcmp(buf, "0") == 0 || strcasecmp(buf, "false") == 0)
            ch->clear_flags |= admin_flags[i].flag;
        else
            return bad(ch, "status flags take 0 or 1, found '%s'", buf);
    }
    if (param(p, "w_status", buf, sizeof(buf)) >= 0) {
        unsigned on = 0, keep = ~0u;

        /* parsed twice: onto nothing for what it sets, onto everything
         * for what it clears */
        if (member_parse_status(buf, &on, &error) < 0 ||
            member_parse_status(buf, &keep, &error) < 0)
            return bad(ch, "w_status: %s", error);
        if ((on | ~keep) & ~MEMBER_ADMIN_MASK)
            return bad(ch, "w_status '%s': only the letters I N D S H "
                       "can be changed here", buf);
        ch->set_flags |= on;
        ch->clear_flags |= ~keep;
    }
    return 0;
}

static int check_member(const struct params *p, struct change *ch)
{
    char buf[MAX_PARAM];

    if (param(p, "w_lf", buf, sizeof(buf)) >= 0 &&
        parse_factor(buf, &ch->loadfactor) < 0)
        return bad(ch, "loadfactor: expected 1 to 100 (two decimals at "
                   "most), found '%s'", buf);
    if (param(p, "w_ls", buf, sizeof(buf)) >= 0 &&
        parse_int(buf, 0, 99, &ch->lbset) < 0)
        return bad(ch, "lbset: expected 0 to 99, found '%s'", buf);
    if (param(p, "w_wr", buf, sizeof(buf)) >= 0 &&
        parse_route(buf, &ch->route) < 0)
        return bad(ch, "route: expected up to 63 visible characters "
                   "without space \" , ; or \\, found '%s'", buf);
    if (param(p, "w_rr", buf, sizeof(buf)) >= 0 &&
        parse_route(buf, &ch->redirect) < 0)
        return bad(ch, "redirect: expected a route (up to 63 visible "
                   "characters), found '%s'", buf);
    return check_flags(p, ch);
}

static int check_balancer(const struct params *p, struct change *ch)
{
    char buf[MAX_PARAM];

    if (param(p, "b_lbm", buf, sizeof(buf)) >= 0 &&
        (ch->lbmethod = lbmethod_from_name(buf)) < 0)
        return bad(ch, "lbmethod: expected byrequests, bytraffic or "
                   "bybusyness, found '%s'", buf);
    if (param(p, "b_tmo", buf, sizeof(buf)) >= 0) {
        if (parse_int(buf, 0, 86400, &ch->timeout_ms) < 0)
            return bad(ch, "timeout: expected seconds from 0 to 86400, "
                       "found '%s'", buf);
        ch->timeout_ms *= 1000;
    }
    if (param(p, "b_max", buf, sizeof(buf)) >= 0 &&
        parse_int(buf, 0, 1000, &ch->maxattempts) < 0)
        return bad(ch, "failover attempts: expected 0 to 1000, found "
                   "'%s'", buf);
    if (param(p, "b_sforce", buf, sizeof(buf)) >= 0) {
        if (strcmp(buf, "1") == 0 || strcasecmp(buf, "true") == 0)
            ch->nofailover = 1;
        else if (strcmp(buf, "0") == 0 || strcasecmp(buf, "false") == 0)
            ch->nofailover = 0;
        else
            return bad(ch, "disable failover: expected 0 or 1, found "
                       "'%s'", buf);
    }
    return 0;
}

static void note(struct change *ch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct change *ch, const char *fmt, ...)
{
    size_t len = strlen(ch->done);
    va_list ap;

    if (len >= sizeof(ch->done) - 3)
        return;
    if (len > 0) {
        strcpy(ch->done + len, ", ");
        len += 2;
    }
    va_start(ap, fmt);
    vsnprintf(ch->done + len, sizeof(ch->done) - len, fmt, ap);
    va_end(ap);
}

static void publish(char **field, char *value)
{
    char *old = *field;

    __atomic_store_n(field, value, __ATOMIC_RELEASE);
    retire(old);
}

/* Apply ch to its member; caller holds the balancer's lock. */
static void apply_member(struct change *ch)
{
    struct member *m = ch->m;

    if (ch->loadfactor >= 0 && ch->loadfactor != m->loadfactor) {
        note(ch, "loadfactor %d.%02d -> %d.%02d", m->loadfactor / 100,
             m->loadfactor % 100, ch->loadfactor / 100,
             ch->loadfactor % 100);
        __atomic_store_n(&m->loadfactor, ch->loadfactor, __ATOMIC_RELAXED);
    }
    if (ch->lbset >= 0 && ch->lbset != m->lbset) {
        note(ch, "lbset %d -> %d", m->lbset, ch->lbset);
        __atomic_store_n(&m->lbset, ch->lbset, __ATOMIC_RELAXED);
    }
    if (ch->route != NULL) {
        if (strcmp(ch->route, m->route) != 0)
            note(ch, "route '%s' -> '%s'", m->route, ch->route);
        publish(&m->route, ch->route);
        ch->route = NULL;
    }
    if (ch->redirect != NULL) {
        if (strcmp(ch->redirect, m->redirect) != 0)
            note(ch, "redirect '%s' -> '%s'", m->redirect, ch->redirect);
        publish(&m->redirect, ch->redirect);
        ch->redirect = NULL;
    }
}

static void apply_flags(struct change *ch)
{
    unsigned before, after;
    char was[128], now[128];

    if (ch->m == NULL || (ch->set_flags | ch->clear_flags) == 0)
        return;
    before = atomic_fetch_or(&ch->m->status, ch->set_flags);
    atomic_fetch_and(&ch->m->status, ~ch->clear_flags);
    after = atomic_load(&ch->m->status);
    if (before == after)
        return;
    member_status_string(before, was, sizeof(was));
    member_status_string(after, now, sizeof(now));
    note(ch, "status %s -> %s", was, now);
}

static void apply_balancer(struct change *ch)
{
    struct balancer *b = ch->b;
    size_t i;

    if (ch->lbmethod >= 0 && (int)b->lbmethod != ch->lbmethod) {
        note(ch, "lbmethod %s -> %s", lbmethod_text(b),
             lbmethod_ops((enum lbmethod_kind)ch->lbmethod)->name);
        b->lbmethod = (enum lbmethod_kind)ch->lbmethod;
        for (i = 0; i < b->nmembers; i++)
            b->members[i]->lbstatus = 0;
    }
    if (ch->timeout_ms >= 0 && ch->timeout_ms != b->timeout_ms) {
        note(ch, "timeout %d -> %d s", b->timeout_ms / 1000,
             ch->timeout_ms / 1000);
        b->timeout_ms = ch->timeout_ms;
    }
    if (ch->maxattempts >= 0 && ch->maxattempts != b->maxattempts) {
        note(ch, "failover attempts %d -> %d", b->maxattempts,
             ch->maxattempts);
        b->maxattempts = ch->maxattempts;
    }
    if (ch->nofailover >= 0 && ch->nofailover != b->nofailover) {
        note(ch, "nofailover %s -> %s", b->nofailover ? "On" : "Off",
             ch->nofailover ? "On" : "Off");
        b->nofailover = ch->nofailover;
    }
}

static void apply(const struct handler_request *rq, struct change *ch)
{
    pthread_mutex_lock(&ch->b->lock);
    if (ch->m != NULL)
        apply_member(ch);
    apply_balancer(ch);
    pthread_mutex_unlock(&ch->b->lock);
    apply_flags(ch);

    if (ch->done[0] == '\0') {
        snprintf(ch->done, sizeof(ch->done), "nothing changed");
        return;
    }
    log_msg(LOG_LEVEL_NOTICE, "proxy_balancer", "balancer-manager: %s "
            "changed %s%s%s: %s", rq->client_ip, ch->m ? ch->m->name : "",
            ch->m ? " in " : "", ch->b->name, ch->done);
    persist_save(rq->config);       /* BalancerPersist On: kept */
}

/*
 * Check the change a request asks for. Returns 0 (ch ready), or the HTTP
 * status to refuse it with, ch->why saying why.
 */
static int check_change(const struct handler_request *rq,
                        const struct params *p, struct change *ch)
{
    char name[MAX_PARAM] = "", nonce[MAX_PARAM] = "";
    bool for_member = any_param(p, member_changes);

    if (!handler_method_is(rq, "POST")) {
        snprintf(ch->why, sizeof(ch->why), "changes need POST");
        return 405;
    }
    if (param(p, "b", name, sizeof(name)) < 0)
        return bad(ch, "b: the balancer to change is missing%s", ""), 400;
    if ((ch->b = find_balancer(rq->config, name)) == NULL)
        return bad(ch, "b: no balancer named '%s'", name), 400;
    if (param(p, "nonce", nonce, sizeof(nonce)) < 0 ||
        strcmp(nonce, ch->b->nonce) != 0)
        return bad(ch, "the nonce is missing or does not match %s's: "
                   "reload the balancer-manager page (a new start or "
                   "reload makes new nonces); nothing was changed",
                   ch->b->name), 400;
    if (for_member) {
        name[0] = '\0';
        if (param(p, "w", name, sizeof(name)) < 0)
            return bad(ch, "w: the member to change is missing%s", ""), 400;
        if ((ch->m = find_member(ch->b, name)) == NULL)
            return bad(ch, "w: no member with URL '%s' in this "
                       "balancer", name), 400;
        if (check_member(p, ch) < 0)
            return 400;
    }
    return check_balancer(p, ch) < 0 ? 400 : 0;
}

static void change_free(struct change *ch)
{
    free(ch->route);
    free(ch->redirect);
}

/* ---- the HTML page ---------------------------------------------------- */

static void html(struct hbuf *o, const char *s)
{
    hbuf_html(o, s, strlen(s));
}

static void page_head(struct hbuf *o, const struct config *c)
{
    hbuf_puts(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
              "<title>Balancer Manager</title>\n<style>body{font-family:"
              "sans-serif;margin:1em 2em}table{border-collapse:collapse;"
              "margin:.5em 0}th,td{border:1px solid #bbb;padding:.2em "
              ".6em;text-align:left}th{background:#eee}.msg{background:"
              "#efe;padding:.4em}.err{background:#fee}</style></head>\n"
              "<body>\n<h1>Load Balancer Manager for ");
    html(o, c->server_name);
    hbuf_puts(o, "</h1>\n<dl><dt>Server Version: balancer "
              BALANCER_VERSION "</dt></dl>\n");
}

/* href="PATH?b=NAME&nonce=N[&w=URL]" */
static void put_link(struct hbuf *o, const struct handler_request *rq,
                     const struct balancer *b, const struct member *m)
{
    struct hbuf url = { 0 };

    hbuf_put(&url, rq->path, rq->path_len);
    hbuf_puts(&url, "?b=");
    hbuf_url(&url, short_name(b), strlen(short_name(b)));
    if (m != NULL) {
        hbuf_puts(&url, "&w=");
        hbuf_url(&url, m->name, strlen(m->name));
    }
    hbuf_puts(&url, "&nonce=");
    hbuf_puts(&url, b->nonce);
    hbuf_puts(o, "<a href=\"");
    if (url.failed)
        o->failed = true;
    else
        hbuf_html(o, url.data, url.len);
    hbuf_puts(o, "\">");
    hbuf_free(&url);
}

static void balancer_table(struct hbuf *o, const struct handler_request *rq,
                           struct balancer *b)
{
    const char *sticky = b->sticky_cookie ? b->sticky_cookie
                         : b->sticky_param ? b->sticky_param : "(None)";

    hbuf_puts(o, "<hr />\n<h3>LoadBalancer Status for ");
    put_link(o, rq, b, NULL);
    html(o, b->name);
    hbuf_printf(o, "</a> [%s]</h3>\n<table><tr><th>MaxMembers</th>"
                "<th>StickySession</th><th>DisableFailover</th>"
                "<th>Timeout</th><th>FailoverAttempts</th><th>Method</th>"
                "<th>Path</th><th>Active</th></tr>\n<tr><td>%zu [%zu Used]"
                "</td><td>", b->nonce, b->nmembers, b->nmembers);
    html(o, sticky);
    hbuf_printf(o, "</td><td>%s</td><td>%d</td><td>%d</td><td>%s</td>"
                "<td>", b->nofailover ? "On" : "Off", b->timeout_ms / 1000,
                b->maxattempts, lbmethod_text(b));
    html(o, pass_path(rq->config, b));
    hbuf_puts(o, "</td><td>Yes</td></tr>\n</table>\n");

    hbuf_printf(o, "<table><tr><th>Sticky hits</th><th>No sticky value"
                "</th><th>Session cookie, no sticky value</th><th>Route "
                "names no member</th><th>Sticky cookie not sent back</th>"
                "</tr>\n<tr><td>%llu</td><td>%llu</td><td>%llu</td><td>"
                "%llu</td><td>%llu</td></tr>\n</table>\n",
                (unsigned long long)atomic_load(&b->sticky_hits),
                (unsigned long long)atomic_load(&b->sticky_misses),
                (unsigned long long)atomic_load(&b->sticky_session_only),
                (unsigned long long)atomic_load(&b->sticky_unknown_route),
                (unsigned long long)atomic_load(&b->sticky_cookie_lost));
}

static void member_row(struct hbuf *o, const struct handler_request *rq,
                       struct balancer *b, const struct member *m)
{
    struct member_view v;
    char status[128], health[256];

    view_member(b, m, &v);
    member_status_string(atomic_load(&m->status), status, sizeof(status));
    health_text(m, health, sizeof(health));

    hbuf_puts(o, "<tr><td>");
    put_link(o, rq, b, m);
    html(o, m->name);
    hbuf_puts(o, "</a></td><td>");
    html(o, v.route);
    hbuf_puts(o, "</td><td>");
    html(o, v.redirect);
    hbuf_printf(o, "</td><td>%d.%02d</td><td>%d</td><td>", v.loadfactor
                / 100, v.loadfactor % 100, v.lbset);
    html(o, status);
    hbuf_puts(o, "</td><td>");
    html(o, health);
    hbuf_printf(o, "</td><td>%llu</td><td>%lld</td><td>%llu</td><td>%llu"
                "</td><td>%llu</td></tr>\n",
                (unsigned long long)atomic_load(&m->elected),
                (long long)atomic_load(&m->busy),
                (unsigned long long)atomic_load(&m->errors),
                (unsigned long long)atomic_load(&m->bytes_out),
                (unsigned long long)atomic_load(&m->bytes_in));
}

static void members_table(struct hbuf *o, const struct handler_request *rq,
                          struct balancer *b)
{
    size_t i;

    hbuf_puts(o, "<table><tr><th>Worker URL</th><th>Route</th>"
              "<th>RouteRedir</th><th>Factor</th><th>Set</th>"
              "<th>Status</th><th>Health</th><th>Elected</th>"
              "<th>Busy</th><th>Errors</th><th>To</th><th>From</th>"
              "</tr>\n");
    for (i = 0; i < b->nmembers; i++)
        member_row(o, rq, b, b->members[i]);
    hbuf_puts(o, "</table>\n");
}

static void form_start(struct hbuf *o, const struct handler_request *rq)
{
    hbuf_puts(o, "<form method=\"POST\" enctype=\"application/"
              "x-www-form-urlencoded\" action=\"");
    hbuf_html(o, rq->path, rq->path_len);
    hbuf_puts(o, "\">\n<table>\n");
}

static void hidden(struct hbuf *o, const char *name, const char *value)
{
    hbuf_printf(o, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    html(o, value);
    hbuf_puts(o, "\">\n");
}

static void text_field(struct hbuf *o, const char *label, const char *name,
                       const char *value)
{
    hbuf_printf(o, "<tr><td><label for=\"%s\">%s:</label></td><td><input "
                "type=\"text\" id=\"%s\" name=\"%s\" value=\"", name,
                label, name, name);
    html(o, value);
    hbuf_puts(o, "\"></td></tr>\n");
}

static void on_off_field(struct hbuf *o, const char *label,
                         const char *name, bool on)
{
    hbuf_printf(o, "<tr><td>%s:</td><td><label><input type=\"radio\" "
                "name=\"%s\" value=\"1\"%s> On</label> <label><input "
                "type=\"radio\" name=\"%s\" value=\"0\"%s> Off</label>"
                "</td></tr>\n", label, name, on ? " checked" : "", name,
                on ? "" : " checked");
}

static void member_form(struct hbuf *o, const struct handler_request *rq,
                        struct balancer *b, struct member *m)
{
    struct member_view v;
    unsigned status = atomic_load(&m->status);
    char lf[16], ls[16], name[16];
    size_t i;

    view_member(b, m, &v);
    snprintf(lf, sizeof(lf), "%d.%02d", v.loadfactor / 100,
             v.loadfactor % 100);
    snprintf(ls, sizeof(ls), "%d", v.lbset);

    hbuf_puts(o, "<hr />\n<h3>Edit worker settings for ");
    html(o, m->name);
    hbuf_puts(o, "</h3>\n");
    form_start(o, rq);
    text_field(o, "Load factor", "w_lf", lf);
    text_field(o, "LB Set", "w_ls", ls);
    text_field(o, "Route", "w_wr", v.route);
    text_field(o, "Route Redirect", "w_rr", v.redirect);
    for (i = 0; i < NADMIN_FLAGS; i++) {
        snprintf(name, sizeof(name), "w_status_%c", admin_flags[i].letter);
        on_off_field(o, admin_flags[i].label, name,
                     status & admin_flags[i].flag);
    }
    hbuf_puts(o, "<tr><td colspan=\"2\"><input type=\"submit\" "
              "value=\"Submit\"></td></tr>\n</table>\n");
    hidden(o, "w", m->name);
    hidden(o, "b", short_name(b));
    hidden(o, "nonce", b->nonce);
    hbuf_puts(o, "</form>\n");
}

static void balancer_form(struct hbuf *o, const struct handler_request *rq,
                          struct balancer *b)
{
    char tmo[16], max[16];
    int k;

    snprintf(tmo, sizeof(tmo), "%d", b->timeout_ms / 1000);
    snprintf(max, sizeof(max), "%d", b->maxattempts);
    hbuf_puts(o, "<hr />\n<h3>Edit balancer settings for ");
    html(o, b->name);
    hbuf_puts(o, "</h3>\n");
    form_start(o, rq);
    hbuf_puts(o, "<tr><td><label for=\"b_lbm\">LBmethod:</label></td><td>"
              "<select id=\"b_lbm\" name=\"b_lbm\">");
    for (k = LBMETHOD_BYREQUESTS; k <= LBMETHOD_BYBUSYNESS; k++)
        hbuf_printf(o, "<option value=\"%s\"%s>%s</option>",
                    lbmethod_ops((enum lbmethod_kind)k)->name,
                    (int)b->lbmethod == k ? " selected" : "",
                    lbmethod_ops((enum lbmethod_kind)k)->name);
    hbuf_puts(o, "</select></td></tr>\n");
    text_field(o, "Timeout", "b_tmo", tmo);
    text_field(o, "Failover Attempts", "b_max", max);
    on_off_field(o, "Disable Failover", "b_sforce", b->nofailover);
    hbuf_puts(o, "<tr><td colspan=\"2\"><input type=\"submit\" "
              "value=\"Submit\"></td></tr>\n</table>\n");
    hidden(o, "b", short_name(b));
    hidden(o, "nonce", b->nonce);
    hbuf_puts(o, "</form>\n");
}

/* The edit form the query selects (b, w, nonce), if the nonce is right. */
static void selected_form(struct hbuf *o, const struct handler_request *rq,
                          const struct params *p)
{
    char name[MAX_PARAM], nonce[MAX_PARAM];
    struct balancer *b;
    struct member *m = NULL;

    if (param(p, "b", name, sizeof(name)) < 0 ||
        (b = find_balancer(rq->config, name)) == NULL ||
        param(p, "nonce", nonce, sizeof(nonce)) < 0 ||
        strcmp(nonce, b->nonce) != 0)
        return;
    if (param(p, "w", name, sizeof(name)) >= 0)
        m = find_member(b, name);
    if (m != NULL)
        member_form(o, rq, b, m);
    else
        balancer_form(o, rq, b);
}

static void state_html(const struct handler_request *rq,
                       struct handler_response *rs, const struct params *p,
                       const char *message, bool error)
{
    struct hbuf *o = &rs->body;
    const struct config *c = rq->config;
    size_t i;

    o->len = 0;
    page_head(o, c);
    if (message != NULL) {
        hbuf_printf(o, "<p class=\"msg%s\">", error ? " err" : "");
        html(o, message);
        hbuf_puts(o, "</p>\n");
    }
    for (i = 0; i < c->nbalancers; i++) {
        if (c->balancers[i]->anonymous)
            continue;
        balancer_table(o, rq, c->balancers[i]);
        members_table(o, rq, c->balancers[i]);
    }
    if (!error)
        selected_form(o, rq, p);
    hbuf_puts(o, "<hr />\n</body></html>\n");
}

/* ---- the handler ------------------------------------------------------- */

static bool wants_json(const struct handler_request *rq,
                       const struct params *p)
{
    char buf[32];
    const char *type;
    size_t len;

    if (param(p, "format", buf, sizeof(buf)) >= 0)
        return strcasecmp(buf, "json") == 0;
    if (rq->path_len >= 4 &&
        memcmp(rq->path + rq->path_len - 4, "/api", 4) == 0)
        return true;
    type = handler_header(rq, "Content-Type", &len);
    return type != NULL && len >= 16 &&
           strncasecmp(type, "application/json", 16) == 0;
}

/* Read the body as a form or a JSON object. -1 when it is neither. */
/* The media type of a Content-Type value is exactly name (any case),
 * with nothing or only parameters after it. */
static bool media_type_is(const char *type, size_t len, const char *name)
{
    size_t n = strlen(name);

    if (len < n || strncasecmp(type, name, n) != 0)
        return false;
    return len == n || type[n] == ';' || type[n] == ' ' || type[n] == '\t';
}

/*
 * The request's parameters: a form (application/x-www-form-urlencoded,
 * or no Content-Type as Apache's manager takes it) or a JSON object
 * (application/json). Returns 0, -1 for a body that is not a JSON
 * object, -2 for any other media type.
 */
static int read_body(const struct handler_request *rq, struct params *p)
{
    const char *type;
    size_t len;
    struct json_tokener *tok;

    if (rq->body_len == 0)
        return 0;
    type = handler_header(rq, "Content-Type", &len);
    if (type == NULL ||
        media_type_is(type, len, "application/x-www-form-urlencoded")) {
        p->form = rq->body;
        p->form_len = rq->body_len;
        return 0;
    }
    if (!media_type_is(type, len, "application/json"))
        return -2;
    tok = json_tokener_new();
    if (tok == NULL)
        return -1;
    p->json = json_tokener_parse_ex(tok, rq->body, (int)rq->body_len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(p->json, json_type_object)) {
        json_object_put(p->json);
        p->json = NULL;
        json_tokener_free(tok);
        return -1;
    }
    json_tokener_free(tok);
    return 0;
}

static void refuse(const struct handler_request *rq,
                   struct handler_response *rs, const struct params *p,
                   bool json, int status, const char *why)
{
    log_msg(LOG_LEVEL_INFO, "proxy_balancer", "balancer-manager: refused "
            "a change from %s with %d: %s", rq->client_ip, status, why);
    if (status == 405)
        handler_add_header(rs, "Allow", "GET, HEAD, POST");
    if (json) {
        error_json(rs, status, why);
    } else {
        rs->status = status;
        state_html(rq, rs, p, why, true);
    }
}

void manager_serve(const struct handler_request *rq,
                   struct handler_response *rs)
{
    struct params p = { rq->query, rq->query_len, NULL, 0, NULL };
    struct change ch;
    bool json;
    int status;

    memset(&ch, 0, sizeof(ch));
    ch.loadfactor = ch.lbset = ch.lbmethod = -1;
    ch.timeout_ms = ch.maxattempts = ch.nofailover = -1;

    if (!handler_method_is(rq, "GET") && !handler_method_is(rq, "HEAD") &&
        !handler_method_is(rq, "POST")) {
        handler_add_header(rs, "Allow", "GET, HEAD, POST");
        handler_error_page(rs, 405, "The balancer-manager answers GET, "
                           "HEAD and POST.");
        return;
    }
    switch (read_body(rq, &p)) {
    case -1:
        error_json(rs, 400, "the body is not a JSON object");
        return;
    case -2:
        error_json(rs, 415, "the body must be application/json or "
                   "application/x-www-form-urlencoded");
        return;
    }
    json = wants_json(rq, &p);

    if (!any_param(&p, member_changes) && !any_param(&p, balancer_changes)) {
        if (json)
            state_json(rq->config, rs, NULL);
        else
            state_html(rq, rs, &p, NULL, false);
        goto done;
    }

    status = check_change(rq, &p, &ch);
    if (status != 0) {
        refuse(rq, rs, &p, json, status, ch.why);
        goto done;
    }
    apply(rq, &ch);
    if (json)
        state_json(rq->config, rs, ch.done);
    else
        state_html(rq, rs, &p, ch.done, false);

done:
    change_free(&ch);
    json_object_put(p.json);
}
