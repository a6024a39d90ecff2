/*
 * persist.c - BalancerPersist On: the members' runtime settings in a
 * JSON state file (json-c), written whole and renamed into place.
 *
 * The file, for a person reading it:
 *   { "format": "balancer-state 1", "config": "/etc/balancer/...",
 *     "balancers": [ { "name": "balancer://cluster", "members": [
 *       { "url": "http://10.0.0.1:8080",
 *         "configured": { "status": "", "loadfactor": 1, "lbset": 0,
 *                         "route": "a", "redirect": "" },
 *         "status": "D", "loadfactor": 2.5, "lbset": 0,
 *         "route": "a", "redirect": "" } ] } ] }
 * "status" holds the letters of status= for the flags an operator sets
 * (MEMBER_ADMIN_FLAGS); loadfactor is Apache's 1 .. 100 with two
 * decimals.
 */
#include "persist.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"

#define STATE_FORMAT "balancer-state 1"

static pthread_mutex_t save_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct config *current_config;
static const struct persist_baseline *current_base;

/* ---- the baseline: what the files set ------------------------------- */

static void conf_free(struct persist_member_conf *m)
{
    free(m->balancer);
    free(m->member);
    free(m->route);
    free(m->redirect);
}

static int conf_fill(struct persist_member_conf *to, const struct balancer *b,
                     const struct member *m)
{
    to->balancer = strdup(b->name);
    to->member = strdup(m->name);
    to->route = strdup(m->route ? m->route : "");
    to->redirect = strdup(m->redirect ? m->redirect : "");
    to->status = m->initial_status;
    to->loadfactor = m->loadfactor;
    to->lbset = m->lbset;
    if (to->balancer && to->member && to->route && to->redirect)
        return 0;
    conf_free(to);
    return -1;
}

struct persist_baseline *persist_baseline_create(const struct config *c)
{
    struct persist_baseline *base = calloc(1, sizeof(*base));
    size_t i, j, n = 0;

    if (base == NULL)
        return NULL;
    for (i = 0; i < c->nbalancers; i++)
        n += c->balancers[i]->nmembers;
    base->members = calloc(n + 1, sizeof(*base->members));
    if (base->members == NULL)
        goto free_base;

    for (i = 0; i < c->nbalancers; i++) {
        const struct balancer *b = c->balancers[i];

        for (j = 0; j < b->nmembers; j++) {
            if (conf_fill(&base->members[base->nmembers], b,
                          b->members[j]) < 0)
                goto free_base;
            base->nmembers++;
        }
    }
    return base;

free_base:
    persist_baseline_free(base);
    return NULL;
}

void persist_baseline_free(struct persist_baseline *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->nmembers; i++)
        conf_free(&b->members[i]);
    free(b->members);
    free(b);
}

const struct persist_member_conf *
persist_baseline_find(const struct persist_baseline *b, const char *name,
                      const char *member)
{
    size_t i;

    if (b == NULL)
        return NULL;
    for (i = 0; i < b->nmembers; i++) {
        if (strcasecmp(b->members[i].balancer, name) == 0 &&
            strcmp(b->members[i].member, member) == 0)
            return &b->members[i];
    }
    return NULL;
}

int persist_path(const struct config *c, char *buf, size_t size)
{
    char pid[4096];
    char *dot, *slash;

    if (pidfile_path(c, pid, sizeof(pid)) < 0)
        return -1;
    dot = strrchr(pid, '.');
    slash = strrchr(pid, '/');
    if (dot != NULL && (slash == NULL || dot > slash))
        *dot = '\0';
    if (snprintf(buf, size, "%s.state", pid) >= (int)size)
        return -1;
    return 0;
}

/* ---- status letters -------------------------------------------------- */

static const struct {
    char letter;
    unsigned flag;
} admin_letters[] = {
    { 'D', MEMBER_DISABLED }, { 'S', MEMBER_STOPPED },
    { 'I', MEMBER_IGNORE_ERRORS }, { 'H', MEMBER_HOT_STANDBY },
    { 'R', MEMBER_HOT_SPARE }, { 'N', MEMBER_DRAIN },
};

#define NADMIN (sizeof(admin_letters) / sizeof(admin_letters[0]))

static void status_letters(unsigned status, char *buf)
{
    size_t i, n = 0;

    for (i = 0; i < NADMIN; i++) {
        if (status & admin_letters[i].flag)
            buf[n++] = admin_letters[i].letter;
    }
    buf[n] = '\0';
}

/* Letters back to flags; -1 for a letter that is not one of ours. */
static int status_from_letters(const char *s, unsigned *out)
{
    unsigned flags = 0;
    size_t i;

    for (; *s; s++) {
        for (i = 0; i < NADMIN; i++) {
            if (admin_letters[i].letter == *s)
                break;
        }
        if (i == NADMIN)
            return -1;
        flags |= admin_letters[i].flag;
    }
    *out = flags;
    return 0;
}

/* ---- saving ---------------------------------------------------------- */

static json_object *settings_json(unsigned status, int loadfactor, int lbset,
                                  const char *route, const char *redirect)
{
    json_object *o = json_object_new_object();
    char letters[NADMIN + 1];

    status_letters(status, letters);
    json_object_object_add(o, "status", json_object_new_string(letters));
    json_object_object_add(o, "loadfactor",
                           json_object_new_double(loadfactor / 100.0));
    json_object_object_add(o, "lbset", json_object_new_int(lbset));
    json_object_object_add(o, "route", json_object_new_string(route ?
                                                              route : ""));
    json_object_object_add(o, "redirect",
                           json_object_new_string(redirect ? redirect : ""));
    return o;
}

/* One member: its runtime settings, plus what the file set. Caller
 * holds the balancer's lock. */
static json_object *member_json(const struct member *m,
                                const struct persist_member_conf *conf)
{
    json_object *o = settings_json(atomic_load(&m->status), m->loadfactor,
                                   m->lbset, m->route, m->redirect);

    json_object_object_add(o, "url", json_object_new_string(m->name));
    if (conf != NULL)
        json_object_object_add(o, "configured",
                               settings_json(conf->status, conf->loadfactor,
                                             conf->lbset, conf->route,
                                             conf->redirect));
    return o;
}

static json_object *state_json(const struct config *c,
                               const struct persist_baseline *base)
{
    json_object *root = json_object_new_object();
    json_object *list = json_object_new_array();
    size_t i, j;

    json_object_object_add(root, "format",
                           json_object_new_string(STATE_FORMAT));
    json_object_object_add(root, "config", json_object_new_string(c->file));
    for (i = 0; i < c->nbalancers; i++) {
        struct balancer *b = c->balancers[i];
        json_object *jb = json_object_new_object();
        json_object *members = json_object_new_array();

        json_object_object_add(jb, "name", json_object_new_string(b->name));
        pthread_mutex_lock(&b->lock);
        for (j = 0; j < b->nmembers; j++) {
            const struct member *m = b->members[j];

            json_object_array_add(members, member_json(m,
                persist_baseline_find(base, b->name, m->name)));
        }
        pthread_mutex_unlock(&b->lock);
        json_object_object_add(jb, "members", members);
        json_object_array_add(list, jb);
    }
    json_object_object_add(root, "balancers", list);
    return root;
}

static int write_file(const char *path, const char *text)
{
    char tmp[4200];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    if (fputs(text, f) < 0 || fputc('\n', f) < 0) {
        fclose(f);
        goto remove_tmp;
    }
    if (fclose(f) != 0)
        goto remove_tmp;
    if (rename(tmp, path) == 0)
        return 0;

remove_tmp:
    unlink(tmp);
    return -1;
}

int persist_save(const struct config *c)
{
    char path[4096];
    json_object *root;
    int rc = 0;

    pthread_mutex_lock(&save_lock);
    if (c == NULL || c != current_config || !c->balancer_persist)
        goto unlock;
    if (persist_path(c, path, sizeof(path)) < 0) {
        log_msg(LOG_LEVEL_ERR, "proxy_balancer", "BalancerPersist: no "
                "place for the state file (set PidFile); changes are not "
                "kept");
        rc = -1;
        goto unlock;
    }
    root = state_json(c, current_base);
    if (write_file(path, json_object_to_json_string_ext(root,
                   JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE))
        < 0) {
        log_msg(LOG_LEVEL_ERR, "proxy_balancer", "BalancerPersist: cannot "
                "write %s: %s; changes are not kept", path,
                strerror(errno));
        rc = -1;
    }
    json_object_put(root);
unlock:
    pthread_mutex_unlock(&save_lock);
    return rc;
}

void persist_set_current(const struct config *c,
                         const struct persist_baseline *base)
{
    pthread_mutex_lock(&save_lock);
    current_config = c;
    current_base = base;
    pthread_mutex_unlock(&save_lock);
}

/* ---- loading --------------------------------------------------------- */

/* Settings read from one JSON object; false when a field is missing or
 * of the wrong kind. */
struct settings {
    unsigned status;
    int loadfactor;
    int lbset;
    const char *route;
    const char *redirect;
};

static bool settings_read(json_object *o, struct settings *s)
{
    json_object *status, *lf, *lbset, *route, *redirect;

    if (!json_object_object_get_ex(o, "status", &status) ||
        !json_object_object_get_ex(o, "loadfactor", &lf) ||
        !json_object_object_get_ex(o, "lbset", &lbset) ||
        !json_object_object_get_ex(o, "route", &route) ||
        !json_object_object_get_ex(o, "redirect", &redirect))
        return false;
    if (!json_object_is_type(status, json_type_string) ||
        !json_object_is_type(route, json_type_string) ||
        !json_object_is_type(redirect, json_type_string) ||
        !json_object_is_type(lbset, json_type_int) ||
        !(json_object_is_type(lf, json_type_double) ||
          json_object_is_type(lf, json_type_int)))
        return false;
    if (status_from_letters(json_object_get_string(status),
                            &s->status) < 0)
        return false;
    s->loadfactor = (int)(json_object_get_double(lf) * 100 + 0.5);
    s->lbset = json_object_get_int(lbset);
    s->route = json_object_get_string(route);
    s->redirect = json_object_get_string(redirect);
    return s->loadfactor >= 100 && s->loadfactor <= 10000 &&
           s->lbset >= 0 && s->lbset <= 99;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void replace_text(char **field, const char *value)
{
    char *copy = strdup(value);

    if (copy != NULL) {
        free(*field);
        *field = copy;
    }
}

/* Apply saved to m, field by field, where the file still sets what it
 * set then (conf: now, was: then); status= counts as one field. Returns
 * true when m changed. */
static bool apply_member(struct member *m,
                         const struct persist_member_conf *conf,
                         const struct settings *was,
                         const struct settings *saved)
{
    unsigned take = conf->status == was->status ? MEMBER_ADMIN_FLAGS : 0;
    unsigned status = atomic_load(&m->status);
    unsigned next = (status & ~take) | (saved->status & take);
    bool changed = next != status;

    atomic_store(&m->status, next);
    if (conf->loadfactor == was->loadfactor &&
        m->loadfactor != saved->loadfactor) {
        m->loadfactor = saved->loadfactor;
        changed = true;
    }
    if (conf->lbset == was->lbset && m->lbset != saved->lbset) {
        m->lbset = saved->lbset;
        changed = true;
    }
    if (same(conf->route, was->route) && !same(m->route, saved->route)) {
        replace_text(&m->route, saved->route);
        changed = true;
    }
    if (same(conf->redirect, was->redirect) &&
        !same(m->redirect, saved->redirect)) {
        replace_text(&m->redirect, saved->redirect);
        changed = true;
    }
    return changed;
}

static struct member *member_of(const struct config *c, const char *name,
                                const char *url)
{
    const struct balancer *b = config_find_balancer(c, name);
    size_t i;

    for (i = 0; b != NULL && i < b->nmembers; i++) {
        if (strcmp(b->members[i]->name, url) == 0)
            return b->members[i];
    }
    return NULL;
}

static int load_member(struct config *c, const struct persist_baseline *base,
                       const char *name, json_object *jm)
{
    json_object *url, *configured;
    struct settings was, saved;
    const struct persist_member_conf *conf;
    struct member *m;

    if (!json_object_object_get_ex(jm, "url", &url) ||
        !json_object_object_get_ex(jm, "configured", &configured) ||
        !settings_read(configured, &was) || !settings_read(jm, &saved))
        return 0;
    m = member_of(c, name, json_object_get_string(url));
    conf = persist_baseline_find(base, name, json_object_get_string(url));
    if (m == NULL || conf == NULL)
        return 0;
    return apply_member(m, conf, &was, &saved) ? 1 : 0;
}

static int load_tree(struct config *c, const struct persist_baseline *base,
                     json_object *root)
{
    json_object *list, *format;
    size_t i, j;
    int changed = 0;

    if (!json_object_object_get_ex(root, "format", &format) ||
        strcmp(json_object_get_string(format), STATE_FORMAT) != 0 ||
        !json_object_object_get_ex(root, "balancers", &list) ||
        !json_object_is_type(list, json_type_array))
        return -1;
    for (i = 0; i < json_object_array_length(list); i++) {
        json_object *jb = json_object_array_get_idx(list, i);
        json_object *name, *members;

        if (!json_object_object_get_ex(jb, "name", &name) ||
            !json_object_object_get_ex(jb, "members", &members) ||
            !json_object_is_type(members, json_type_array))
            continue;
        for (j = 0; j < json_object_array_length(members); j++)
            changed += load_member(c, base, json_object_get_string(name),
                                   json_object_array_get_idx(members, j));
    }
    return changed;
}

int persist_load(struct config *c, const struct persist_baseline *base)
{
    char path[4096];
    json_object *root;
    int changed;

    if (persist_path(c, path, sizeof(path)) < 0) {
        log_msg(LOG_LEVEL_WARN, "proxy_balancer", "BalancerPersist: no "
                "place for the state file (set PidFile)");
        return 0;
    }
    if (access(path, F_OK) < 0)
        return 0;
    root = json_object_from_file(path);
    if (root == NULL) {
        log_msg(LOG_LEVEL_WARN, "proxy_balancer", "BalancerPersist: "
                "cannot read %s: %s; starting from the configuration",
                path, json_util_get_last_err());
        return 0;
    }
    changed = load_tree(c, base, root);
    json_object_put(root);
    if (changed < 0) {
        log_msg(LOG_LEVEL_WARN, "proxy_balancer", "BalancerPersist: %s is "
                "not a balancer state file (format \"%s\"); ignored",
                path, STATE_FORMAT);
        return 0;
    }
    log_msg(LOG_LEVEL_NOTICE, "proxy_balancer", "BalancerPersist: %d "
            "member%s restored from %s (the configuration wins where it "
            "changed since)", changed, changed == 1 ? "" : "s", path);
    return changed;
}
