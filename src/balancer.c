/*
 * balancer.c - members' status flags, error state and retry, and the
 * runtime of a balancer.
 *
 * The status flags and letters follow mod_proxy's BalancerMember status=
 * parameter (Apache httpd 2.4); the retry rule follows what Apache does in
 * ap_proxy_retry_worker: a member in error becomes usable again once its
 * retry time has passed, and an IGNORE_ERRORS member at once.
 */
#include "balancer.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "health.h"
#include "log.h"

/* The flags that keep a member from new requests, whatever else it has
 * (Apache's PROXY_WORKER_NOT_USABLE_BITMAP, less IN_ERROR which depends on
 * the retry time). */
#define MEMBER_NOT_USABLE (MEMBER_DISABLED | MEMBER_STOPPED | MEMBER_HC_FAILED)

struct status_letter {
    char letter;
    unsigned flag;
    const char *name;       /* as the manager shows it */
};

/* In the order Apache's manager prints the names. */
static const struct status_letter status_letters[] = {
    { 'I', MEMBER_IGNORE_ERRORS, "Ign" },
    { 'N', MEMBER_DRAIN,         "Drn" },
    { 'D', MEMBER_DISABLED,      "Dis" },
    { 'S', MEMBER_STOPPED,       "Stop" },
    { 'E', MEMBER_IN_ERROR,      "Err" },
    { 'H', MEMBER_HOT_STANDBY,   "Stby" },
    { 'R', MEMBER_HOT_SPARE,     "Spar" },
    { 'C', MEMBER_HC_FAILED,     "HcFl" },
};

#define NSTATUS_LETTERS (sizeof(status_letters) / sizeof(status_letters[0]))

int64_t balancer_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 32 hex digits from the kernel's random source, for the manager's
 * nonce (Apache uses a UUID per balancer for the same purpose). */
static void make_nonce(char *buf, size_t size)
{
    unsigned char raw[16];
    size_t i, got = 0;

    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof(raw)) {
        uint64_t t = (uint64_t)balancer_now_ms() ^ (uint64_t)(uintptr_t)buf;

        memcpy(raw, &t, sizeof(t));
        memcpy(raw + 8, &t, sizeof(t));
    }
    for (i = 0; i < sizeof(raw) && 2 * i + 2 < size; i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
}

int balancer_init_runtime(struct balancer *b)
{
    size_t i;

    if (pthread_mutex_init(&b->lock, NULL) != 0)
        return -1;
    make_nonce(b->nonce, sizeof(b->nonce));

    for (i = 0; i < b->nmembers; i++) {
        struct member *m = b->members[i];

        m->balancer = b;
        m->index = (int)i;
        atomic_store(&m->status, m->initial_status);
        atomic_store(&m->error_time_ms, 0);
        atomic_store(&m->elected, 0);
        atomic_store(&m->busy, 0);
        atomic_store(&m->bytes_out, 0);
        atomic_store(&m->bytes_in, 0);
        atomic_store(&m->errors, 0);
        m->lbstatus = 0;
    }
    return 0;
}

void member_free(struct member *m)
{
    if (m == NULL)
        return;
    free(m->name);
    free(m->host);
    free(m->path);
    free(m->hostport);
    free(m->route);
    free(m->redirect);
    member_hc_free(&m->hc);
    free(m);
}

void balancer_free(struct balancer *b)
{
    size_t i;

    if (b == NULL)
        return;

    for (i = 0; i < b->nmembers; i++)
        member_free(b->members[i]);
    free(b->members);
    free(b->name);
    free(b->sticky_cookie);
    free(b->sticky_param);
    member_hc_free(&b->hc);
    /* A zeroed mutex is a valid default one on glibc, so this is safe for
     * a balancer whose runtime was never initialised. */
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* Has the retry time of a member in error passed? IGNORE_ERRORS members
 * are retried at once, as Apache's ap_proxy_retry_worker does. */
static bool retry_elapsed(const struct member *m, unsigned status,
                          int64_t now_ms)
{
    int64_t since = atomic_load(&m->error_time_ms);

    if (status & MEMBER_IGNORE_ERRORS)
        return true;
    return now_ms >= since + m->retry_ms;
}

/* Usable now, without changing anything (for counting). */
static bool member_usable_readonly(const struct member *m, int64_t now_ms)
{
    unsigned status = atomic_load(&m->status);

    if (status & MEMBER_NOT_USABLE)
        return false;
    if (status & MEMBER_IN_ERROR)
        return retry_elapsed(m, status, now_ms);
    return true;
}

bool member_is_usable(struct member *m, int64_t now_ms)
{
    unsigned status = atomic_load(&m->status);

    if (status & MEMBER_NOT_USABLE)
        return false;
    if (!(status & MEMBER_IN_ERROR))
        return true;
    if (!retry_elapsed(m, status, now_ms))
        return false;

    /* Only the thread that clears the flag logs it. */
    if (atomic_compare_exchange_strong(&m->status, &status,
                                       status & ~MEMBER_IN_ERROR)) {
        health_member_up(m, now_ms);
        log_msg(LOG_LEVEL_DEBUG, "proxy",
                "member %s in %s: retry time passed, marked for retry",
                m->name, m->balancer ? m->balancer->name : "(none)");
    }
    return true;
}

size_t balancer_count_usable(const struct balancer *b, int64_t now_ms)
{
    size_t i, n = 0;

    for (i = 0; i < b->nmembers; i++)
        if (member_usable_readonly(b->members[i], now_ms))
            n++;
    return n;
}

bool member_set_error(struct member *m, const char *cause)
{
    unsigned old;
    int64_t now = balancer_now_ms();
    const char *bname = m->balancer ? m->balancer->name : "(none)";
    size_t left, total;

    atomic_fetch_add(&m->errors, 1);
    if (atomic_load(&m->status) & MEMBER_IGNORE_ERRORS)
        return false;

    atomic_store(&m->error_time_ms, now);
    old = atomic_fetch_or(&m->status, MEMBER_IN_ERROR);
    if (old & MEMBER_IN_ERROR)
        return false;

    atomic_fetch_add(&m->down_gen, 1);
    atomic_store(&m->up_since_ms, 0);
    atomic_store(&m->hc_urgent, true);
    left = m->balancer ? balancer_count_usable(m->balancer, now) : 0;
    total = m->balancer ? m->balancer->nmembers : 1;
    if (m->retry_ms % 1000 == 0)
        log_msg(LOG_LEVEL_ERR, "proxy",
                "member %s in %s is in error state for %d s: %s; "
                "%zu of %zu members left", m->name, bname,
                m->retry_ms / 1000, cause ? cause : "unknown cause",
                left, total);
    else
        log_msg(LOG_LEVEL_ERR, "proxy",
                "member %s in %s is in error state for %d ms: %s; "
                "%zu of %zu members left", m->name, bname, m->retry_ms,
                cause ? cause : "unknown cause", left, total);
    return true;
}

void member_status_string(unsigned status, char *buf, size_t size)
{
    size_t i, len = 0;

    if (size == 0)
        return;
    buf[0] = '\0';

    for (i = 0; i < NSTATUS_LETTERS; i++) {
        if (!(status & status_letters[i].flag))
            continue;
        len += snprintf(buf + len, len < size ? size - len : 0, "%s%s",
                        len ? " " : "", status_letters[i].name);
        if (len >= size)
            return;
    }

    /* Apache adds "Ok" to whatever flags a usable member has. */
    if (!(status & (MEMBER_NOT_USABLE | MEMBER_IN_ERROR)))
        snprintf(buf + len, size - len, "%sOk", len ? " " : "");
}

static const struct status_letter *find_letter(char c)
{
    size_t i;
    char upper = (char)toupper((unsigned char)c);

    for (i = 0; i < NSTATUS_LETTERS; i++)
        if (status_letters[i].letter == upper)
            return &status_letters[i];
    return NULL;
}

/*
 * Apache's documentation says each letter is set with '+' or cleared with
 * '-'. Its behaviour (set_worker_param) goes further: the sign stays in
 * force for the letters after it, so "-EH" clears both E and H, and
 * "S-E" sets S and clears E. We match the behaviour. A sign with no
 * letter after it is an error, as in Apache. Apache's internal letters
 * G, U and F are not ours and are refused.
 */
int member_parse_status(const char *text, unsigned *flags,
                        const char **error)
{
    static __thread char message[64];
    const struct status_letter *l;
    bool set = true;
    unsigned result = *flags;
    const char *p;

    if (*text == '\0') {
        *error = "status= needs at least one letter of DSIHRENC";
        return -1;
    }

    for (p = text; *p; p++) {
        if (*p == '+' || *p == '-') {
            set = *p == '+';
            if (p[1] == '\0' || p[1] == '+' || p[1] == '-') {
                snprintf(message, sizeof(message),
                         "status '%c' must be followed by a letter", *p);
                *error = message;
                return -1;
            }
            continue;
        }

        l = find_letter(*p);
        if (l == NULL) {
            if (isprint((unsigned char)*p))
                snprintf(message, sizeof(message),
                         "unknown status letter '%c' (expected one of "
                         "DSIHRENC)", *p);
            else
                snprintf(message, sizeof(message),
                         "unknown status character 0x%02x (expected one "
                         "of DSIHRENC)", (unsigned char)*p);
            *error = message;
            return -1;
        }
        if (set)
            result |= l->flag;
        else
            result &= ~l->flag;
    }

    *flags = result;
    return 0;
}

const char *pick_reason_name(enum pick_reason reason)
{
    switch (reason) {
    case PICK_STICKY:
        return "sticky";
    case PICK_REDIRECT:
        return "redirect";
    case PICK_LBMETHOD:
        return "lbmethod";
    case PICK_FAILOVER:
        return "failover";
    case PICK_STANDBY:
        return "standby";
    case PICK_RETRY:
        return "retry";
    case PICK_NONE:
        break;
    }
    return "none";
}

bool balancer_force_recovery(struct balancer *b, int64_t now_ms)
{
    size_t i;

    if (!b->forcerecovery || b->nmembers == 0)
        return false;

    /* Apache's force_recovery: only when every member is in error, even
     * after its retry time is considered. */
    for (i = 0; i < b->nmembers; i++) {
        struct member *m = b->members[i];

        if (!(atomic_load(&m->status) & MEMBER_IN_ERROR))
            return false;
        if (member_is_usable(m, now_ms))
            return false;
        if (!(atomic_load(&m->status) & MEMBER_IN_ERROR))
            return false;
    }

    for (i = 0; i < b->nmembers; i++) {
        struct member *m = b->members[i];

        atomic_fetch_and(&m->status, ~MEMBER_IN_ERROR);
        health_member_up(m, now_ms);
        log_msg(LOG_LEVEL_DEBUG, "proxy",
                "%s: forcing recovery of member %s: every member was in "
                "error state", b->name, m->name);
    }
    return true;
}
