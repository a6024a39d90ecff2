/*
 * health_expr.c - the expected-status conditions of health checks:
 * Apache's ProxyHCExpr for %{REQUEST_STATUS} (=~ /regex/, -lt .. -ne,
 * ==, !=, in {...}, joined by && || ! and parentheses) and our
 * ProxyHCExpectStatus list (200-399,418). Parsed once when the
 * configuration is read; evaluated per check.
 */
#include "health.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ==================================================================== */
/* Conditions                                                            */

enum cond_kind { COND_AND, COND_OR, COND_NOT, COND_REGEX, COND_CMP,
                 COND_SET };

enum cmp_op { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

struct status_range {
    int lo, hi;
};

struct hc_cond {
    enum cond_kind kind;
    struct hc_cond *left, *right;   /* AND, OR; NOT: left */
    regex_t re;                     /* REGEX */
    bool negate;                    /* REGEX: !~ */
    enum cmp_op op;                 /* CMP */
    int number;
    struct status_range *ranges;    /* SET */
    size_t nranges;
};

struct cond_parser {
    const char *s;
    char *err;
    size_t errsize;
    bool failed;
    int depth;
};

#define MAX_COND_DEPTH 32

static bool cp_fail(struct cond_parser *cp, const char *fmt, const char *at)
{
    char rest[40];

    if (cp->failed)
        return false;
    cp->failed = true;
    snprintf(rest, sizeof(rest), "%s", *at ? at : "the end");
    snprintf(cp->err, cp->errsize, fmt, rest);
    return false;
}

static void cp_skip(struct cond_parser *cp)
{
    while (*cp->s == ' ' || *cp->s == '\t')
        cp->s++;
}

static bool cp_accept(struct cond_parser *cp, const char *tok)
{
    size_t n = strlen(tok);

    cp_skip(cp);
    if (strncmp(cp->s, tok, n) != 0)
        return false;
    cp->s += n;
    return true;
}

static struct hc_cond *cond_new(enum cond_kind kind)
{
    struct hc_cond *c = calloc(1, sizeof(*c));

    if (c != NULL)
        c->kind = kind;
    return c;
}

void hc_cond_free(struct hc_cond *cond)
{
    if (cond == NULL)
        return;
    hc_cond_free(cond->left);
    hc_cond_free(cond->right);
    if (cond->kind == COND_REGEX)
        regfree(&cond->re);
    free(cond->ranges);
    free(cond);
}

/* A status number, bare or in ' or " quotes. */
static bool cp_number(struct cond_parser *cp, int *out)
{
    char quote = 0;
    long n = 0;
    int digits = 0;

    cp_skip(cp);
    if (*cp->s == '\'' || *cp->s == '"')
        quote = *cp->s++;
    while (*cp->s >= '0' && *cp->s <= '9' && digits < 4) {
        n = n * 10 + (*cp->s++ - '0');
        digits++;
    }
    if (digits == 0 || digits > 3)
        return cp_fail(cp, "expected a status number at '%s'", cp->s);
    if (quote && *cp->s++ != quote)
        return cp_fail(cp, "expected a closing quote at '%s'", cp->s - 1);
    *out = (int)n;
    return true;
}

/* "/regex/" with optional flags; \d is taken as [0-9] for POSIX. */
static struct hc_cond *cp_regex(struct cond_parser *cp, bool negate)
{
    struct hc_cond *c;
    char *pattern, *out;
    const char *start;
    char msg[128];
    int rc;

    cp_skip(cp);
    if (*cp->s != '/') {
        cp_fail(cp, "expected /REGEX/ after =~ or !~ at '%s'", cp->s);
        return NULL;
    }
    start = ++cp->s;
    pattern = malloc(strlen(start) * 5 + 1);
    if (pattern == NULL) {
        cp_fail(cp, "out of memory%.0s", "");
        return NULL;
    }
    for (out = pattern; *cp->s && *cp->s != '/'; cp->s++) {
        if (cp->s[0] == '\\' && cp->s[1] == 'd') {
            memcpy(out, "[0-9]", 5);
            out += 5;
            cp->s++;
        } else if (cp->s[0] == '\\' && cp->s[1] == '/') {
            *out++ = '/';
            cp->s++;
        } else {
            *out++ = *cp->s;
        }
    }
    *out = '\0';
    if (*cp->s != '/') {
        free(pattern);
        cp_fail(cp, "expected a closing / for the regex at '%s'", start);
        return NULL;
    }
    cp->s++;
    while (*cp->s == 'i')           /* case does not matter for digits */
        cp->s++;

    c = cond_new(COND_REGEX);
    if (c == NULL) {
        free(pattern);
        cp_fail(cp, "out of memory%.0s", "");
        return NULL;
    }
    rc = regcomp(&c->re, pattern, REG_EXTENDED | REG_NOSUB);
    free(pattern);
    if (rc != 0) {
        regerror(rc, &c->re, msg, sizeof(msg));
        free(c);
        snprintf(cp->err, cp->errsize, "bad regex: %s", msg);
        cp->failed = true;
        return NULL;
    }
    c->kind = COND_REGEX;
    c->negate = negate;
    return c;
}

/* "{N, N, ...}" after "in". */
static struct hc_cond *cp_in_list(struct cond_parser *cp)
{
    struct hc_cond *c = cond_new(COND_SET);
    struct status_range *r;
    int n;

    if (c == NULL) {
        cp_fail(cp, "out of memory%.0s", "");
        return NULL;
    }
    c->kind = COND_SET;
    if (!cp_accept(cp, "{")) {
        cp_fail(cp, "expected {N, ...} after 'in' at '%s'", cp->s);
        goto free_cond;
    }
    do {
        if (!cp_number(cp, &n))
            goto free_cond;
        r = realloc(c->ranges, (c->nranges + 1) * sizeof(*r));
        if (r == NULL) {
            cp_fail(cp, "out of memory%.0s", "");
            goto free_cond;
        }
        c->ranges = r;
        r[c->nranges].lo = r[c->nranges].hi = n;
        c->nranges++;
    } while (cp_accept(cp, ","));
    if (!cp_accept(cp, "}")) {
        cp_fail(cp, "expected ',' or '}' in the list at '%s'", cp->s);
        goto free_cond;
    }
    return c;

free_cond:
    hc_cond_free(c);
    return NULL;
}

static const struct {
    const char *text;
    enum cmp_op op;
} cmp_ops[] = {
    { "-lt", OP_LT }, { "-le", OP_LE }, { "-gt", OP_GT }, { "-ge", OP_GE },
    { "-eq", OP_EQ }, { "-ne", OP_NE }, { "==", OP_EQ }, { "!=", OP_NE },
    { "<=", OP_LE }, { ">=", OP_GE }, { "<", OP_LT }, { ">", OP_GT },
    { "=", OP_EQ },
};

/* %{REQUEST_STATUS} OP OPERAND */
static struct hc_cond *cp_compare(struct cond_parser *cp)
{
    static const char var[] = "%{REQUEST_STATUS}";
    struct hc_cond *c;
    size_t i;

    cp_skip(cp);
    if (strncasecmp(cp->s, var, sizeof(var) - 1) != 0) {
        if (strncmp(cp->s, "%{", 2) == 0)
            cp_fail(cp, "only %%{REQUEST_STATUS} is supported in health "
                    "check expressions, found '%s'", cp->s);
        else if (strncasecmp(cp->s, "hc(", 3) == 0)
            cp_fail(cp, "hc('body') is not supported in health check "
                    "expressions, found '%s'", cp->s);
        else
            cp_fail(cp, "expected %%{REQUEST_STATUS} at '%s'", cp->s);
        return NULL;
    }
    cp->s += sizeof(var) - 1;

    if (cp_accept(cp, "=~"))
        return cp_regex(cp, false);
    if (cp_accept(cp, "!~"))
        return cp_regex(cp, true);
    cp_skip(cp);
    if (strncmp(cp->s, "in", 2) == 0 && (cp->s[2] == ' ' || cp->s[2] == '{'
                                         || cp->s[2] == '\t')) {
        cp->s += 2;
        return cp_in_list(cp);
    }

    for (i = 0; i < sizeof(cmp_ops) / sizeof(cmp_ops[0]); i++)
        if (cp_accept(cp, cmp_ops[i].text))
            break;
    if (i == sizeof(cmp_ops) / sizeof(cmp_ops[0])) {
        cp_fail(cp, "expected =~, !~, -lt, -le, -gt, -ge, -eq, -ne, ==, "
                "!= or in after %%{REQUEST_STATUS}, found '%s'", cp->s);
        return NULL;
    }
    c = cond_new(COND_CMP);
    if (c == NULL) {
        cp_fail(cp, "out of memory%.0s", "");
        return NULL;
    }
    c->kind = COND_CMP;
    c->op = cmp_ops[i].op;
    if (!cp_number(cp, &c->number)) {
        free(c);
        return NULL;
    }
    return c;
}

static struct hc_cond *cp_or(struct cond_parser *cp);

static struct hc_cond *cp_unary(struct cond_parser *cp)
{
    struct hc_cond *c, *inner;

    if (++cp->depth > MAX_COND_DEPTH) {
        cp_fail(cp, "expression nested too deeply at '%s'", cp->s);
        return NULL;
    }
    cp_skip(cp);
    if (cp->s[0] == '!' && cp->s[1] != '=' && cp->s[1] != '~') {
        cp->s++;
        inner = cp_unary(cp);
        if (inner == NULL)
            return NULL;
        c = cond_new(COND_NOT);
        if (c == NULL) {
            hc_cond_free(inner);
            cp_fail(cp, "out of memory%.0s", "");
            return NULL;
        }
        c->kind = COND_NOT;
        c->left = inner;
        cp->depth--;
        return c;
    }
    if (cp_accept(cp, "(")) {
        c = cp_or(cp);
        if (c != NULL && !cp_accept(cp, ")")) {
            hc_cond_free(c);
            cp_fail(cp, "expected ')' at '%s'", cp->s);
            return NULL;
        }
        cp->depth--;
        return c;
    }
    c = cp_compare(cp);
    cp->depth--;
    return c;
}

static struct hc_cond *cp_binary(struct cond_parser *cp, bool is_or)
{
    struct hc_cond *left, *right, *c;

    left = is_or ? cp_binary(cp, false) : cp_unary(cp);
    while (left != NULL && cp_accept(cp, is_or ? "||" : "&&")) {
        right = is_or ? cp_binary(cp, false) : cp_unary(cp);
        if (right == NULL)
            goto free_left;
        c = cond_new(COND_AND);
        if (c == NULL) {
            hc_cond_free(right);
            cp_fail(cp, "out of memory%.0s", "");
            goto free_left;
        }
        c->kind = is_or ? COND_OR : COND_AND;
        c->left = left;
        c->right = right;
        left = c;
    }
    return left;

free_left:
    hc_cond_free(left);
    return NULL;
}

static struct hc_cond *cp_or(struct cond_parser *cp)
{
    return cp_binary(cp, true);
}

struct hc_cond *hc_cond_parse(const char *text, char *err, size_t errsize)
{
    struct cond_parser cp = { text, err, errsize, false, 0 };
    struct hc_cond *c;
    char *copy = NULL;
    size_t len;

    /* ProxyHCExpr's braces around the expression. */
    while (*text == ' ' || *text == '\t')
        text++;
    len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len >= 2 && text[0] == '{' && text[len - 1] == '}') {
        copy = strndup(text + 1, len - 2);
        if (copy == NULL) {
            snprintf(err, errsize, "out of memory");
            return NULL;
        }
        cp.s = copy;
    }

    c = cp_or(&cp);
    cp_skip(&cp);
    if (c != NULL && *cp.s != '\0') {
        cp_fail(&cp, "expected && or || or the end at '%s'", cp.s);
        hc_cond_free(c);
        c = NULL;
    }
    if (c == NULL && !cp.failed)
        snprintf(err, errsize, "bad expression");
    free(copy);
    return c;
}

struct hc_cond *hc_cond_parse_status_list(const char *text, char *err,
                                          size_t errsize)
{
    struct hc_cond *c = cond_new(COND_SET);
    const char *s = text;

    if (c == NULL)
        goto no_memory;
    c->kind = COND_SET;
    for (;;) {
        struct status_range *r;
        char *end;
        long lo, hi;

        while (*s == ' ')
            s++;
        lo = strtol(s, &end, 10);
        if (end == s || *s == '-' || *s == '+' || lo < 100 || lo > 599)
            goto bad;
        hi = lo;
        s = end;
        if (*s == '-') {
            s++;
            if (*s < '0' || *s > '9')
                goto bad;
            hi = strtol(s, &end, 10);
            if (hi < lo || hi > 599)
                goto bad;
            s = end;
        }
        r = realloc(c->ranges, (c->nranges + 1) * sizeof(*r));
        if (r == NULL)
            goto no_memory;
        c->ranges = r;
        r[c->nranges].lo = (int)lo;
        r[c->nranges].hi = (int)hi;
        c->nranges++;
        while (*s == ' ')
            s++;
        if (*s == '\0')
            return c;
        if (*s++ != ',')
            goto bad;
    }

bad:
    snprintf(err, errsize, "expected status codes 100..599 or ranges "
             "LOW-HIGH separated by ',', e.g. 200-399,418; found '%s'",
             text);
    hc_cond_free(c);
    return NULL;
no_memory:
    snprintf(err, errsize, "out of memory");
    hc_cond_free(c);
    return NULL;
}

static bool compare(enum cmp_op op, int a, int b)
{
    switch (op) {
    case OP_LT:
        return a < b;
    case OP_LE:
        return a <= b;
    case OP_GT:
        return a > b;
    case OP_GE:
        return a >= b;
    case OP_EQ:
        return a == b;
    case OP_NE:
        return a != b;
    }
    return false;
}

bool hc_cond_eval(const struct hc_cond *c, int status)
{
    char text[16];
    size_t i;

    if (c == NULL)
        return status >= 200 && status < 400;

    switch (c->kind) {
    case COND_AND:
        return hc_cond_eval(c->left, status)
               && hc_cond_eval(c->right, status);
    case COND_OR:
        return hc_cond_eval(c->left, status)
               || hc_cond_eval(c->right, status);
    case COND_NOT:
        return !hc_cond_eval(c->left, status);
    case COND_REGEX:
        snprintf(text, sizeof(text), "%d", status);
        return (regexec(&c->re, text, 0, NULL, 0) == 0) != c->negate;
    case COND_CMP:
        return compare(c->op, status, c->number);
    case COND_SET:
        for (i = 0; i < c->nranges; i++)
            if (status >= c->ranges[i].lo && status <= c->ranges[i].hi)
                return true;
        return false;
    }
    return false;
}
