/* expr_lex.c: the tokens of the expression language: numbers, durations
 * (30s, 5m, 1h30m), strings, IPv4/IPv6 addresses and CIDR blocks, names,
 * operators. It knows no grammar; expr_parse.c does. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr_int.h"

const char *ex_tok_text(enum ex_tok k)
{
    static const char *const names[] = {
        [TK_EOF] = "the end", [TK_INT] = "a number", [TK_FLOAT] = "a number",
        [TK_DUR] = "a duration", [TK_STR] = "a string", [TK_ADDR] = "an address",
        [TK_CIDR] = "a CIDR block", [TK_IDENT] = "a name", [TK_LP] = "\"(\"",
        [TK_RP] = "\")\"", [TK_COMMA] = "\",\"", [TK_PLUS] = "\"+\"", [TK_MINUS] = "\"-\"",
        [TK_STAR] = "\"*\"", [TK_SLASH] = "\"/\"", [TK_PCT] = "\"%\"", [TK_EQ] = "\"==\"",
        [TK_NE] = "\"!=\"", [TK_LT] = "\"<\"", [TK_LE] = "\"<=\"", [TK_GT] = "\">\"",
        [TK_GE] = "\">=\"", [TK_AND] = "\"and\"", [TK_OR] = "\"or\"", [TK_NOT] = "\"not\"",
        [TK_IN] = "\"in\"", [TK_TRUE] = "\"true\"", [TK_FALSE] = "\"false\"",
    };
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static int lex_fail(struct ex_err *err, size_t off, const char *msg, const char *arg, int len)
{
    err->off = off;
    if (arg)
        snprintf(err->msg, sizeof(err->msg), msg, len, arg);
    else
        snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return -FL_EINVAL;
}

static bool is_ident(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Duration units, longest first so "ms" wins over "m". */
static const struct { const char *u; int64_t ns; } dur_units[] = {
    {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000LL},
    {"m", 60000000000LL}, {"h", 3600000000000LL}, {"d", 86400000000000LL},
};

/* A duration: one or more <digits><unit> with nothing name-like after. */
static int lex_duration(const char *s, size_t start, size_t *pos, struct ex_token *t,
                        struct ex_err *err)
{
    size_t p = start;
    int64_t total = 0;
    while (isdigit((unsigned char)s[p])) {
        uint64_t v = 0;
        size_t d0 = p;
        while (isdigit((unsigned char)s[p])) {
            if (v > (UINT64_MAX - 9) / 10)
                return lex_fail(err, d0, "duration too large", NULL, 0);
            v = v * 10 + (uint64_t)(s[p++] - '0');
        }
        size_t best = 0;
        int64_t ns = 0;
        for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
            size_t l = strlen(dur_units[i].u);
            if (strncmp(s + p, dur_units[i].u, l) == 0 && l > best) {
                best = l;
                ns = dur_units[i].ns;
            }
        }
        if (!best)
            return lex_fail(err, p, "a duration needs a unit after each number (ns, us, ms, s, m, h, d)", NULL, 0);
        p += best;
        if (v > (uint64_t)INT64_MAX / (uint64_t)ns || total > INT64_MAX - (int64_t)v * ns)
            return lex_fail(err, start, "duration too large", NULL, 0);
        total += (int64_t)v * ns;
    }
    if (is_ident(s[p]))
        return lex_fail(err, start, "malformed duration \"%.*s\" (write 30s, 5m, 1h30m, 250ms)",
                        s + start, (int)(p - start + 1));
    t->kind = TK_DUR;
    t->i = total;
    *pos = p;
    return 0;
}

/* An address after it was recognised, with an optional /prefix. */
static int lex_addr(const char *s, size_t start, size_t end, bool v6, size_t *pos,
                    struct ex_token *t, struct ex_err *err)
{
    char buf[64];
    if (end - start >= sizeof(buf))
        return lex_fail(err, start, "malformed address \"%.*s\"", s + start, (int)(end - start));
    memcpy(buf, s + start, end - start);
    buf[end - start] = '\0';
    memset(&t->addr, 0, sizeof(t->addr));
    if (v6) {
        if (inet_pton(AF_INET6, buf, t->addr.b) != 1)
            return lex_fail(err, start, "malformed IPv6 address \"%.*s\"", s + start, (int)(end - start));
    } else {
        t->addr.b[10] = t->addr.b[11] = 0xff;
        if (inet_pton(AF_INET, buf, t->addr.b + 12) != 1)
            return lex_fail(err, start, "malformed IPv4 address \"%.*s\"", s + start, (int)(end - start));
    }
    t->kind = TK_ADDR;
    t->prefix = 128;
    size_t p = end;
    if (s[p] == '/' && isdigit((unsigned char)s[p + 1])) {
        unsigned n = 0, max = v6 ? 128 : 32;
        p++;
        while (isdigit((unsigned char)s[p]) && n <= max)
            n = n * 10 + (unsigned)(s[p++] - '0');
        if (n > max || isdigit((unsigned char)s[p]))
            return lex_fail(err, end + 1, v6 ? "an IPv6 prefix length is 0 to 128"
                                              : "an IPv4 prefix length is 0 to 32", NULL, 0);
        unsigned bits = v6 ? n : 96 + n;
        struct fl_addr net = t->addr;
        for (unsigned i = bits; i < 128; i++)
            net.b[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
        if (memcmp(&net, &t->addr, sizeof(net)) != 0) {
            char txt[INET6_ADDRSTRLEN];
            inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? net.b : net.b + 12, txt, sizeof(txt));
            err->off = start;
            snprintf(err->msg, sizeof(err->msg),
                     "%.*s has bits set past its prefix; did you mean %s/%u?",
                     (int)(p - start), s + start, txt, n);
            return -FL_EINVAL;
        }
        t->kind = TK_CIDR;
        t->prefix = (uint8_t)bits;
    }
    if (is_ident(s[p]) || s[p] == '.' || s[p] == ':')
        return lex_fail(err, start, "malformed address \"%.*s\"", s + start, (int)(p - start + 1));
    *pos = p;
    return 0;
}

static int lex_number(const char *s, size_t start, size_t *pos, struct ex_token *t,
                      struct ex_err *err)
{
    size_t p = start;
    /* An address first: IPv4 is digits and three dots; IPv6 has a colon. */
    size_t e4 = p, dots = 0;
    while (isdigit((unsigned char)s[e4]) || s[e4] == '.')
        dots += s[e4++] == '.';
    size_t e6 = p;
    bool colon = false;
    while (isxdigit((unsigned char)s[e6]) || s[e6] == ':' || s[e6] == '.')
        colon |= s[e6++] == ':';
    if (colon)
        return lex_addr(s, start, e6, true, pos, t, err);
    if (dots == 3)
        return lex_addr(s, start, e4, false, pos, t, err);
    if (s[p] == '0' && (s[p + 1] == 'x' || s[p + 1] == 'X') && isxdigit((unsigned char)s[p + 2])) {
        uint64_t v = 0;
        for (p += 2; isxdigit((unsigned char)s[p]); p++) {
            if (v >> 60)
                return lex_fail(err, start, "integer too large", NULL, 0);
            v = v << 4 | (uint64_t)(isdigit((unsigned char)s[p]) ? s[p] - '0'
                                                               : (tolower((unsigned char)s[p]) - 'a' + 10));
        }
        if (v > INT64_MAX)
            return lex_fail(err, start, "integer too large", NULL, 0);
        if (is_ident(s[p]))
            return lex_fail(err, start, "malformed number \"%.*s\"", s + start, (int)(p - start + 1));
        t->kind = TK_INT;
        t->i = (int64_t)v;
        *pos = p;
        return 0;
    }
    while (isdigit((unsigned char)s[p]))
        p++;
    if (isalpha((unsigned char)s[p]) && s[p] != 'e' && s[p] != 'E')
        return lex_duration(s, start, pos, t, err);
    bool fl = false;
    if (s[p] == '.' && isdigit((unsigned char)s[p + 1])) {
        fl = true;
        for (p++; isdigit((unsigned char)s[p]); p++)
            ;
    }
    if ((s[p] == 'e' || s[p] == 'E')
        && (isdigit((unsigned char)s[p + 1])
            || ((s[p + 1] == '+' || s[p + 1] == '-') && isdigit((unsigned char)s[p + 2])))) {
        fl = true;
        for (p += 2; isdigit((unsigned char)s[p]); p++)
            ;
    }
    if (is_ident(s[p]) || s[p] == '.')
        return lex_fail(err, start, "malformed number \"%.*s\"", s + start, (int)(p - start + 1));
    char buf[64];
    if (p - start >= sizeof(buf))
        return lex_fail(err, start, "number too long", NULL, 0);
    memcpy(buf, s + start, p - start);
    buf[p - start] = '\0';
    errno = 0;
    if (fl) {
        t->kind = TK_FLOAT;
        t->f = strtod(buf, NULL);
        if (!isfinite(t->f))
            return lex_fail(err, start, "number too large", NULL, 0);
    } else {
        unsigned long long v = strtoull(buf, NULL, 10);
        if (errno == ERANGE || v > INT64_MAX)
            return lex_fail(err, start, "integer too large (the largest is 9223372036854775807)", NULL, 0);
        t->kind = TK_INT;
        t->i = (int64_t)v;
    }
    *pos = p;
    return 0;
}

static int lex_string(const char *s, size_t start, size_t *pos, struct ex_token *t,
                      struct ex_err *err)
{
    char q = s[start];
    size_t p = start + 1, n = 0;
    char *out = malloc(strlen(s + start) + 1);
    if (!out)
        return -FL_ENOMEM;
    for (;; p++) {
        char c = s[p];
        if (!c) {
            free(out);
            return lex_fail(err, start, "string not closed", NULL, 0);
        }
        if (c == q)
            break;
        if (c == '\\') {
            switch (s[++p]) {
            case '\\': c = '\\'; break;
            case '"': c = '"'; break;
            case '\'': c = '\''; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            default:
                free(out);
                return lex_fail(err, p - 1, "unknown escape in a string (\\\\, \\\", \\', \\n, \\t)", NULL, 0);
            }
        }
        out[n++] = c;
    }
    out[n] = '\0';
    t->kind = TK_STR;
    t->str = out;
    t->str_len = (uint32_t)n;
    *pos = p + 1;
    return 0;
}

static const struct { const char *w; enum ex_tok k; } keywords[] = {
    {"and", TK_AND}, {"or", TK_OR}, {"not", TK_NOT}, {"in", TK_IN},
    {"true", TK_TRUE}, {"false", TK_FALSE},
};

int ex_lex(const char *s, size_t *pos, struct ex_token *t, struct ex_err *err)
{
    size_t p = *pos;
    while (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r')
        p++;
    memset(t, 0, sizeof(*t));
    t->off = (uint32_t)p;
    int rc = 0;
    char c = s[p];
    if (!c) {
        t->kind = TK_EOF;
        *pos = p;
        return 0;
    }
    if (isdigit((unsigned char)c) || (c == ':' && s[p + 1] == ':')) {
        rc = lex_number(s, p, pos, t, err);
    } else if (isalpha((unsigned char)c) || c == '_') {
        /* A name, unless the run of hex digits and colons makes an IPv6
         * address ("fe80::1", "beef::/16"). */
        size_t e = p, q = p;
        bool colon = false;
        while (isxdigit((unsigned char)s[e]) || s[e] == ':' || s[e] == '.')
            colon |= s[e++] == ':';
        if (colon) {
            rc = lex_addr(s, p, e, true, pos, t, err);
        } else {
            while (is_ident(s[q]))
                q++;
            t->kind = TK_IDENT;
            for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
                if (strlen(keywords[i].w) == q - p && strncmp(s + p, keywords[i].w, q - p) == 0)
                    t->kind = keywords[i].k;
            *pos = q;
        }
    } else if (c == '"' || c == '\'') {
        rc = lex_string(s, p, pos, t, err);
    } else {
        size_t l = 1;
        switch (c) {
        case '(': t->kind = TK_LP; break;
        case ')': t->kind = TK_RP; break;
        case ',': t->kind = TK_COMMA; break;
        case '+': t->kind = TK_PLUS; break;
        case '-': t->kind = TK_MINUS; break;
        case '*': t->kind = TK_STAR; break;
        case '/': t->kind = TK_SLASH; break;
        case '%': t->kind = TK_PCT; break;
        case '<': t->kind = s[p + 1] == '=' ? (l = 2, TK_LE) : TK_LT; break;
        case '>': t->kind = s[p + 1] == '=' ? (l = 2, TK_GE) : TK_GT; break;
        case '=':
            if (s[p + 1] != '=')
                return lex_fail(err, p, "\"=\" is not an operator; did you mean \"==\"?", NULL, 0);
            t->kind = TK_EQ, l = 2;
            break;
        case '!':
            if (s[p + 1] != '=')
                return lex_fail(err, p, "\"!\" is not an operator; did you mean \"not\"?", NULL, 0);
            t->kind = TK_NE, l = 2;
            break;
        case '&':
            return lex_fail(err, p, "\"&\" is not an operator; did you mean \"and\"?", NULL, 0);
        case '|':
            return lex_fail(err, p, "\"|\" is not an operator; did you mean \"or\"?", NULL, 0);
        default:
            if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
                return lex_fail(err, p, "unexpected character", NULL, 0);
            return lex_fail(err, p, "unexpected character \"%.*s\"", s + p, 1);
        }
        *pos = p + l;
    }
    if (rc == 0)
        t->len = (uint32_t)(*pos - p);
    return rc;
}
