/* opts_value.c: strict parsing of one option value from its text, for every
 * scalar enum fl_opt_type (opts.h), with the option's bounds. The same code
 * reads YAML values, table defaults, table bounds and command-line flags, so
 * "1s" means the same thing everywhere.
 *
 * Decisions (docs/dsl.md, "Option values"):
 * - int/uint: decimal or 0x hex; decimal may end in k, M or G (x1000,
 *   x1000000, x1000000000: counts, not bytes); nothing else may follow.
 * - duration: one or more <number><unit> (1h30m, 1.5s), units ns us µs ms s
 *   m h d; a bare number is an error (except 0), never silently seconds.
 * - size: <number>[unit]; a bare number is bytes; KiB MiB GiB TiB and the
 *   shorthands k K m M g G t T are powers of 1024; kB KB MB GB TB powers of
 *   1000. A size must come out as whole bytes.
 * Errors are one phrase without the option's name ("expected a duration
 * (...), got \"soon\""); the caller says which option and where. */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "opts_int.h"

int fl_optv_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (err && len) {
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return -FL_EINVAL;
}

const char *fl_optv_type_name(enum fl_opt_type t)
{
    static const char *const names[FL_OPT_COUNT] = {
        [FL_OPT_BOOL] = "bool", [FL_OPT_INT] = "int", [FL_OPT_UINT] = "uint",
        [FL_OPT_FLOAT] = "float", [FL_OPT_STRING] = "string", [FL_OPT_PATH] = "path",
        [FL_OPT_DURATION] = "duration", [FL_OPT_SIZE] = "size", [FL_OPT_ADDR] = "addr",
        [FL_OPT_ENDPOINT] = "endpoint", [FL_OPT_ENUM] = "enum", [FL_OPT_LIST] = "list",
        [FL_OPT_MAP] = "map", [FL_OPT_PATHS] = "paths",
    };
    return t > FL_OPT_NONE && t < FL_OPT_COUNT ? names[t] : "none";
}

void fl_optv_expected(const struct fl_opt *o, char *buf, size_t len)
{
    static const char *const what[FL_OPT_COUNT] = {
        [FL_OPT_BOOL] = "true or false",
        [FL_OPT_INT] = "an integer (e.g. 42, -1, 0x2a, 10k)",
        [FL_OPT_UINT] = "a non-negative integer (e.g. 42, 0x2a, 10k)",
        [FL_OPT_FLOAT] = "a number (e.g. 0.5, 2, 1e-3)",
        [FL_OPT_STRING] = "a string",
        [FL_OPT_PATH] = "a file path",
        [FL_OPT_DURATION] = "a duration (e.g. 30s, 250ms, 1h30m)",
        [FL_OPT_SIZE] = "a size (e.g. 4096, 64KiB, 16MiB, 1GB)",
        [FL_OPT_ADDR] = "an IPv4 or IPv6 address",
        [FL_OPT_ENDPOINT] = "an endpoint (e.g. udp://0.0.0.0:4739, tcp://host:port, inproc://name)",
        [FL_OPT_LIST] = "a list of values",
        [FL_OPT_MAP] = "a mapping of names to values",
        [FL_OPT_PATHS] = "a file path or a list of them",
    };
    if (o->type == FL_OPT_ENUM) {
        size_t n = (size_t)snprintf(buf, len, "one of ");
        for (size_t i = 0; o->choices && o->choices[i] && n < len; i++)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", o->choices[i]);
        return;
    }
    snprintf(buf, len, "%s", o->type > FL_OPT_NONE && o->type < FL_OPT_COUNT && what[o->type]
             ? what[o->type] : "a value");
}

static int optv_bad(const struct fl_opt *o, const char *text, char *err, size_t len)
{
    char what[512];
    fl_optv_expected(o, what, sizeof(what));
    return fl_optv_err(err, len, "expected %s, got \"%s\"", what, text);
}

static bool optv_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits into *v; -FL_ERANGE past 2^64-1. *end after the digits. */
static int optv_u64(const char *s, const char **end, uint64_t *v)
{
    uint64_t x = 0;
    const char *p = s;
    for (; optv_digit(*p); p++)
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, (uint64_t)(*p - '0'), &x))
            return -FL_ERANGE;
    *end = p;
    *v = x;
    return p == s ? -FL_EINVAL : 0;
}

static int optv_hex(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (!*s)
        return -FL_EINVAL;
    for (; *s; s++) {
        unsigned d;
        if (optv_digit(*s)) d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f') d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F') d = (unsigned)(*s - 'A' + 10);
        else return -FL_EINVAL;
        if (x >> 60)
            return -FL_ERANGE;
        x = x << 4 | d;
    }
    *v = x;
    return 0;
}

/* Magnitude of an integer option: hex, or decimal with a k/M/G suffix. */
static int optv_integer(const char *s, uint64_t *mag)
{
    const char *end;
    uint64_t v, mul = 1;
    int rc;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return optv_hex(s + 2, mag);
    if ((rc = optv_u64(s, &end, &v)) < 0)
        return rc;
    if (*end == 'k') mul = 1000u;
    else if (*end == 'M') mul = 1000000u;
    else if (*end == 'G') mul = 1000000000u;
    if (mul > 1)
        end++;
    if (*end)
        return -FL_EINVAL;
    return __builtin_mul_overflow(v, mul, mag) ? -FL_ERANGE : 0;
}

/* <digits>[.<digits>] or .<digits>: whole part, up to 9 fraction digits
 * (the rest is below a nanosecond or a byte and only checked for digits). */
static int optv_decimal(const char **sp, uint64_t *whole, uint64_t *frac, unsigned *fdig)
{
    const char *s = *sp, *end = s;
    int rc = 0;
    *whole = *frac = 0;
    *fdig = 0;
    if (optv_digit(*s) && (rc = optv_u64(s, &end, whole)) < 0)
        return rc;
    if (*end == '.') {
        end++;
        if (!optv_digit(*end))
            return -FL_EINVAL;
        for (; optv_digit(*end); end++)
            if (*fdig < 9) {
                *frac = *frac * 10 + (uint64_t)(*end - '0');
                (*fdig)++;
            }
    }
    if (end == s)
        return -FL_EINVAL;
    *sp = end;
    return 0;
}

/* whole.frac (fdig fraction digits) times unit, floored; *exact tells
 * whether nothing was floored away. */
static int optv_scale(uint64_t whole, uint64_t frac, unsigned fdig, uint64_t unit,
                      uint64_t *out, bool *exact)
{
    uint64_t p10 = 1, a, b;
    for (unsigned i = 0; i < fdig; i++)
        p10 *= 10;
    /* unit = q * p10 + r: frac*unit/p10 = q*frac + r*frac/p10, each < 2^64 */
    b = (unit % p10) * frac;
    *exact = b % p10 == 0;
    if (__builtin_mul_overflow(whole, unit, &a) || __builtin_add_overflow(a, (unit / p10) * frac, &a)
        || __builtin_add_overflow(a, b / p10, &a))
        return -FL_ERANGE;
    *out = a;
    return 0;
}

struct optv_unit { const char *name; uint64_t mul; };

static const struct optv_unit optv_dur_units[] = {
    { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "ms", 1000000 },
    { "s", 1000000000ull }, { "m", 60000000000ull }, { "h", 3600000000000ull },
    { "d", 86400000000000ull }, { NULL, 0 },
};

static const struct optv_unit optv_size_units[] = {
    { "B", 1 },
    { "k", 1ull << 10 }, { "K", 1ull << 10 }, { "KiB", 1ull << 10 },
    { "m", 1ull << 20 }, { "M", 1ull << 20 }, { "MiB", 1ull << 20 },
    { "g", 1ull << 30 }, { "G", 1ull << 30 }, { "GiB", 1ull << 30 },
    { "t", 1ull << 40 }, { "T", 1ull << 40 }, { "TiB", 1ull << 40 },
    { "kB", 1000ull }, { "KB", 1000ull }, { "MB", 1000000ull },
    { "GB", 1000000000ull }, { "TB", 1000000000000ull }, { NULL, 0 },
};

/* The unit token after a number: everything up to the next digit or '.'. */
static const struct optv_unit *optv_unit(const struct optv_unit *units, const char **sp,
                                         char *tok, size_t toklen)
{
    const char *s = *sp;
    size_t n = 0;
    while (s[n] && !optv_digit(s[n]) && s[n] != '.')
        n++;
    snprintf(tok, toklen, "%.*s", (int)n, s);
    *sp = s + n;
    for (const struct optv_unit *u = units; u->name; u++)
        if (strlen(u->name) == n && !strncmp(u->name, s, n))
            return u;
    return NULL;
}

static int optv_duration(const struct fl_opt *o, const char *text, uint64_t *out, char *err, size_t len)
{
    const char *s = text;
    uint64_t total = 0;
    char tok[32];
    if (!text[0])
        return optv_bad(o, text, err, len);
    if (!strcmp(text, "0")) {             /* zero is zero in any unit */
        *out = 0;
        return 0;
    }
    if (text[0] && strspn(text, "0123456789.") == strlen(text)) {
        uint64_t w, f;
        unsigned fd;
        const char *p = text;
        if (optv_decimal(&p, &w, &f, &fd) == 0 && !*p)
            return fl_optv_err(err, len, "missing unit in \"%s\" (write %ss, %sms, %sm, ...)",
                               text, text, text, text);
        return optv_bad(o, text, err, len);
    }
    while (*s) {
        uint64_t whole, frac, v;
        unsigned fdig;
        bool exact;
        int rc = optv_decimal(&s, &whole, &frac, &fdig);
        if (rc == -FL_ERANGE)
            return fl_optv_err(err, len, "\"%s\" is out of range", text);
        if (rc < 0)
            return optv_bad(o, text, err, len);
        const struct optv_unit *u = optv_unit(optv_dur_units, &s, tok, sizeof(tok));
        if (!u && !tok[0])
            return optv_bad(o, text, err, len);
        if (!u)
            return fl_optv_err(err, len, "unknown unit \"%s\" in \"%s\" (units: ns, us, ms, s, m, h, d)",
                               tok, text);
        if (optv_scale(whole, frac, fdig, u->mul, &v, &exact) < 0
            || __builtin_add_overflow(total, v, &total))
            return fl_optv_err(err, len, "\"%s\" is out of range", text);
    }
    *out = total;
    return 0;
}

static int optv_size(const struct fl_opt *o, const char *text, uint64_t *out, char *err, size_t len)
{
    const char *s = text;
    uint64_t whole, frac;
    unsigned fdig;
    bool exact;
    char tok[32];
    const struct optv_unit *u = &optv_size_units[0];
    int rc = optv_decimal(&s, &whole, &frac, &fdig);
    if (rc == -FL_ERANGE)
        return fl_optv_err(err, len, "\"%s\" is out of range", text);
    if (rc < 0)
        return optv_bad(o, text, err, len);
    if (*s && !(u = optv_unit(optv_size_units, &s, tok, sizeof(tok))))
        return fl_optv_err(err, len, "unknown unit \"%s\" in \"%s\" (units: B, KiB, MiB, GiB,"
                           " TiB, k, M, G, T, kB, MB, GB, TB)", tok, text);
    if (*s)
        return optv_bad(o, text, err, len);
    if (optv_scale(whole, frac, fdig, u->mul, out, &exact) < 0)
        return fl_optv_err(err, len, "\"%s\" is out of range", text);
    if (!exact)
        return fl_optv_err(err, len, "\"%s\" is not a whole number of bytes", text);
    return 0;
}

static bool optv_host(const char *h, size_t n)
{
    if (n == 1 && h[0] == '*')
        return true;
    for (size_t i = 0; i < n; i++)
        if (!(optv_digit(h[i]) || h[i] == '.' || h[i] == '-' || h[i] == '_'
              || (h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z')))
            return false;
    return n > 0 && h[0] != '.' && h[0] != '-';
}

/* udp://host:port, tcp://host:port (host a name, an IPv4 address, [IPv6]
 * or *), inproc://name, ipc://path. Kept as text: links and sockets parse
 * it again with the library that opens them. */
static int optv_endpoint(const struct fl_opt *o, const char *text, char *err, size_t len)
{
    const char *rest, *colon;
    if (!strncmp(text, "inproc://", 9) || !strncmp(text, "ipc://", 6))
        return strstr(text, "://")[3] ? 0 : optv_bad(o, text, err, len);
    if (strncmp(text, "udp://", 6) && strncmp(text, "tcp://", 6))
        return optv_bad(o, text, err, len);
    rest = text + 6;
    if (rest[0] == '[') {
        char v6[64];
        struct in6_addr a;
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':' || (size_t)(close - rest - 1) >= sizeof(v6))
            return optv_bad(o, text, err, len);
        snprintf(v6, sizeof(v6), "%.*s", (int)(close - rest - 1), rest + 1);
        if (inet_pton(AF_INET6, v6, &a) != 1)
            return fl_optv_err(err, len, "bad IPv6 address \"%s\" in \"%s\"", v6, text);
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon || !optv_host(rest, (size_t)(colon - rest)))
            return optv_bad(o, text, err, len);
    }
    const char *end;
    uint64_t port;
    if (optv_u64(colon + 1, &end, &port) < 0 || *end || port > 65535)
        return fl_optv_err(err, len, "bad port \"%s\" in \"%s\" (0 to 65535)", colon + 1, text);
    return 0;
}

static int optv_enum(const struct fl_opt *o, const char *text, int *out, char *err, size_t len)
{
    size_t n = 0;
    char what[512];
    const char *best;
    for (; o->choices && o->choices[n]; n++)
        if (!strcmp(o->choices[n], text)) {
            *out = (int)n;
            return 0;
        }
    fl_optv_expected(o, what, sizeof(what));
    if (n && (best = fl_suggest(text, o->choices, n)))
        return fl_optv_err(err, len, "expected %s, got \"%s\"; did you mean \"%s\"?", what, text, best);
    return fl_optv_err(err, len, "expected %s, got \"%s\"", what, text);
}

static int optv_bool(const struct fl_opt *o, const char *text, bool *out, char *err, size_t len)
{
    static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(text, yes[i])) { *out = true; return 0; }
        if (!strcasecmp(text, no[i])) { *out = false; return 0; }
    }
    return optv_bad(o, text, err, len);
}

int fl_optv_path(const char *text, const char *base_dir, char **out)
{
    if (text[0] == '/' || !strcmp(text, "-") || !base_dir || !base_dir[0] || !strcmp(base_dir, "."))
        *out = strdup(text);
    else if (asprintf(out, "%s%s%s", base_dir,
                      base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", text) < 0)
        *out = NULL;
    return *out ? 0 : -FL_ENOMEM;
}

/* Parse text into v without looking at bounds. */
static int optv_parse(const struct fl_opt *o, const char *text, const char *base_dir,
                      union fl_optv *v, char *err, size_t len)
{
    uint64_t mag;
    char *end;
    int rc;
    memset(v, 0, sizeof(*v));
    switch (o->type) {
    case FL_OPT_BOOL:
        return optv_bool(o, text, &v->b, err, len);
    case FL_OPT_INT:
        rc = optv_integer(text + (text[0] == '-'), &mag);
        if (rc == -FL_EINVAL)
            return optv_bad(o, text, err, len);
        if (rc < 0 || mag > (uint64_t)INT64_MAX + (text[0] == '-'))
            return fl_optv_err(err, len, "\"%s\" is out of range for a 64-bit integer", text);
        v->i = text[0] == '-' ? (int64_t)(0 - mag) : (int64_t)mag;
        return 0;
    case FL_OPT_UINT:
        rc = optv_integer(text, &mag);
        if (rc == -FL_EINVAL)
            return optv_bad(o, text, err, len);
        if (rc < 0)
            return fl_optv_err(err, len, "\"%s\" is out of range for a 64-bit integer", text);
        v->u = mag;
        return 0;
    case FL_OPT_FLOAT:
        if (!text[0] || strchr(" \t\n+", text[0]))
            return optv_bad(o, text, err, len);
        v->f = strtod(text, &end);
        if (*end || !isfinite(v->f))
            return optv_bad(o, text, err, len);
        return 0;
    case FL_OPT_STRING:
        return (v->s = strdup(text)) ? 0 : -FL_ENOMEM;
    case FL_OPT_PATH:
        if (!text[0])
            return optv_bad(o, text, err, len);
        return fl_optv_path(text, base_dir, &v->s);
    case FL_OPT_DURATION:
        return optv_duration(o, text, &v->u, err, len);
    case FL_OPT_SIZE:
        return optv_size(o, text, &v->u, err, len);
    case FL_OPT_ADDR: {
        struct in_addr a4;
        if (inet_pton(AF_INET, text, &a4) == 1) {
            v->a.b[10] = v->a.b[11] = 0xff;
            memcpy(v->a.b + 12, &a4, 4);
            return 0;
        }
        if (inet_pton(AF_INET6, text, v->a.b) == 1)
            return 0;
        return optv_bad(o, text, err, len);
    }
    case FL_OPT_ENDPOINT:
        if ((rc = optv_endpoint(o, text, err, len)) < 0)
            return rc;
        return (v->s = strdup(text)) ? 0 : -FL_ENOMEM;
    case FL_OPT_ENUM:
        return optv_enum(o, text, &v->e, err, len);
    case FL_OPT_LIST:
    case FL_OPT_PATHS:
        if (!text[0] && o->type == FL_OPT_PATHS)
            return optv_bad(o, text, err, len);
        if (!(v->l.v = calloc(2, sizeof(char *)))
            || (o->type == FL_OPT_LIST ? !(v->l.v[0] = strdup(text))
                                       : fl_optv_path(text, base_dir, &v->l.v[0]) < 0)) {
            free(v->l.v);
            return -FL_ENOMEM;
        }
        v->l.n = 1;
        return 0;
    default:
        return fl_optv_err(err, len, "option type %s takes no single value", fl_optv_type_name(o->type));
    }
}

static bool optv_has_bounds(enum fl_opt_type t)
{
    return t == FL_OPT_INT || t == FL_OPT_UINT || t == FL_OPT_FLOAT || t == FL_OPT_DURATION
        || t == FL_OPT_SIZE;
}

/* <0, 0, >0 as a is below, equal, above b (same option type). */
static int optv_cmp(enum fl_opt_type t, const union fl_optv *a, const union fl_optv *b)
{
    if (t == FL_OPT_INT)
        return (a->i > b->i) - (a->i < b->i);
    if (t == FL_OPT_FLOAT)
        return (a->f > b->f) - (a->f < b->f);
    return (a->u > b->u) - (a->u < b->u);
}

int fl_optv_parse(const struct fl_opt *o, const char *text, const char *base_dir,
                  union fl_optv *v, char *err, size_t len)
{
    union fl_optv bound;
    char berr[256];
    int rc = optv_parse(o, text, base_dir, v, err, len);
    if (rc < 0 || !optv_has_bounds(o->type))
        return rc;
    if (o->min) {
        if (optv_parse(o, o->min, NULL, &bound, berr, sizeof(berr)) < 0)
            return fl_optv_err(err, len, "bad minimum \"%s\" in the option table: %s", o->min, berr);
        if (optv_cmp(o->type, v, &bound) < 0)
            return fl_optv_err(err, len, "%s is below the minimum %s", text, o->min);
    }
    if (o->max) {
        if (optv_parse(o, o->max, NULL, &bound, berr, sizeof(berr)) < 0)
            return fl_optv_err(err, len, "bad maximum \"%s\" in the option table: %s", o->max, berr);
        if (optv_cmp(o->type, v, &bound) > 0)
            return fl_optv_err(err, len, "%s is above the maximum %s", text, o->max);
    }
    return 0;
}

size_t fl_optv_size(enum fl_opt_type t)
{
    switch (t) {
    case FL_OPT_BOOL: return sizeof(bool);
    case FL_OPT_INT: return sizeof(int64_t);
    case FL_OPT_UINT: case FL_OPT_DURATION: case FL_OPT_SIZE: return sizeof(uint64_t);
    case FL_OPT_FLOAT: return sizeof(double);
    case FL_OPT_STRING: case FL_OPT_PATH: case FL_OPT_ENDPOINT: return sizeof(char *);
    case FL_OPT_ADDR: return sizeof(struct fl_addr);
    case FL_OPT_ENUM: return sizeof(int);
    case FL_OPT_LIST: case FL_OPT_PATHS: return sizeof(struct fl_strlist);
    case FL_OPT_MAP: return sizeof(struct fl_strmap);
    default: return 0;
    }
}

void fl_optv_free(enum fl_opt_type t, union fl_optv *v)
{
    if (t == FL_OPT_STRING || t == FL_OPT_PATH || t == FL_OPT_ENDPOINT) {
        free(v->s);
        v->s = NULL;
    } else if (t == FL_OPT_LIST || t == FL_OPT_PATHS) {
        for (size_t i = 0; i < v->l.n; i++)
            free(v->l.v[i]);
        free(v->l.v);
        memset(&v->l, 0, sizeof(v->l));
    } else if (t == FL_OPT_MAP) {
        for (size_t i = 0; i < v->m.n; i++) {
            free(v->m.key[i]);
            free(v->m.val[i]);
        }
        free(v->m.key);
        free(v->m.val);
        memset(&v->m, 0, sizeof(v->m));
    }
}
