/* kafka_parse.c: one Kafka message (a json object or a csv row, as
 * output.kafka writes them) into one row of a batch of the declared
 * schema. Values go through fl_text_parse (plugins/lib/text), so every
 * text form flowline writes reads back. Not here: consuming, batching,
 * offsets (kafka.c). */
#include <string.h>
#include "kafka_int.h"

/* Row r of b: every cell missing until a value arrives. */
static int row_clear(struct fl_batch *b, uint32_t r, bool *seen)
{
    for (uint32_t c = 0; c < b->schema->ncols; c++) {
        seen[c] = false;
        int rc = fl_batch_set_missing(b, c, r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int row_set(struct fl_batch *b, uint32_t r, uint32_t c, const char *s, size_t n)
{
    enum fl_type t = b->schema->cols[c]->type;
    char *cell = (char *)b->data[c] + (size_t)r * fl_type_size(t);
    int rc = fl_text_parse(t, s, n, b, cell);
    if (rc == 0)   /* the row was cleared to missing: mark it present */
        b->valid[c][r >> 6] |= (uint64_t)1 << (r & 63);
    return rc;
}

/* ---- CSV: one row, RFC 4180 quoting, columns in schema order ---------- */

int kafka_parse_csv(struct kafka_parser *ps, const char *p, size_t n, struct fl_batch *b,
                    uint32_t r)
{
    uint32_t ncols = b->schema->ncols, c = 0;
    size_t i = 0;
    int rc = row_clear(b, r, ps->seen);
    if (rc < 0)
        return rc;
    if (n && p[n - 1] == '\n')
        n -= n > 1 && p[n - 2] == '\r' ? 2 : 1;
    for (;;) {
        if (c == ncols)
            return -FL_EINVAL;            /* more cells than columns */
        ps->buf.len = 0;
        bool quoted = i < n && p[i] == '"';
        if (quoted) {
            for (i++;; i++) {
                if (i >= n)
                    return -FL_EINVAL;    /* unterminated quote */
                if (p[i] == '"') {
                    if (i + 1 < n && p[i + 1] == '"')
                        i++;
                    else
                        break;
                }
                if ((rc = fl_text_buf_put(&ps->buf, p + i, 1)) < 0)
                    return rc;
            }
            i++;
            if (i < n && p[i] != ps->sep)
                return -FL_EINVAL;
        } else {
            size_t j = i;
            while (j < n && p[j] != ps->sep) {
                if (p[j] == '"' || p[j] == '\n' || p[j] == '\r')
                    return -FL_EINVAL;
                j++;
            }
            if ((rc = fl_text_buf_put(&ps->buf, p + i, j - i)) < 0)
                return rc;
            i = j;
        }
        /* an empty unquoted cell is a missing value; "" is an empty string */
        if ((quoted || ps->buf.len)
            && (rc = row_set(b, r, c, ps->buf.len ? ps->buf.p : "", ps->buf.len)) < 0)
            return rc;
        c++;
        if (i >= n)
            break;
        i++;                              /* the separator */
    }
    return c == ncols ? 0 : -FL_EINVAL;
}

/* ---- JSON: one flat object (RFC 8259) ---------------------------------- */

static size_t json_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static int json_hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char ch = p[k];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            return -FL_EINVAL;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

static int json_utf8(struct fl_text_buf *o, unsigned cp)
{
    char u[4];
    size_t k;
    if (cp < 0x80) { u[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xc0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3f)); k = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)); k = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f)); k = 4;
    }
    return fl_text_buf_put(o, u, k);
}

/* The string at p[*i] == '"', unescaped into o; *i past its closing quote. */
static int json_string(const char *p, size_t n, size_t *i, struct fl_text_buf *o)
{
    size_t j = *i + 1;
    int rc;
    o->len = 0;
    for (;;) {
        size_t k = j;
        while (k < n && p[k] != '"' && p[k] != '\\' && (unsigned char)p[k] >= 0x20)
            k++;
        if ((rc = fl_text_buf_put(o, p + j, k - j)) < 0)
            return rc;
        if (k >= n || (unsigned char)p[k] < 0x20)
            return -FL_EINVAL;
        if (p[k] == '"') {
            *i = k + 1;
            return 0;
        }
        if (k + 1 >= n)
            return -FL_EINVAL;
        char e = p[k + 1], ch;
        j = k + 2;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (j + 4 > n || json_hex4(p + j, &cp) < 0)
                return -FL_EINVAL;
            j += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && j + 6 <= n && p[j] == '\\' && p[j + 1] == 'u'
                && json_hex4(p + j + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                j += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;   /* a lone surrogate: as the text sink writes bad UTF-8 */
            }
            if ((rc = json_utf8(o, cp)) < 0)
                return rc;
            continue;
        }
        default:
            return -FL_EINVAL;
        }
        if ((rc = fl_text_buf_put(o, &ch, 1)) < 0)
            return rc;
    }
}

/* Skip a nested array or object (a value no column can hold). */
static int json_skip(const char *p, size_t n, size_t *i, struct fl_text_buf *scratch)
{
    int depth = 0;
    size_t j = *i;
    while (j < n) {
        char ch = p[j];
        if (ch == '"') {
            if (json_string(p, n, &j, scratch) < 0)
                return -FL_EINVAL;
            continue;
        }
        if (ch == '[' || ch == '{')
            depth++;
        else if (ch == ']' || ch == '}') {
            if (--depth == 0) {
                *i = j + 1;
                return 0;
            }
        }
        j++;
    }
    return -FL_EINVAL;
}

/* The column of a key; keys usually come in schema order, so the one
 * after the previous match is tried first. */
static int json_col(struct kafka_parser *ps, const struct fl_schema *s, const char *k, size_t kn,
                    uint32_t *hint)
{
    for (uint32_t t = 0; t < s->ncols; t++) {
        uint32_t c = (*hint + t) % s->ncols;
        const char *name = ps->names[c];
        if (strlen(name) == kn && memcmp(name, k, kn) == 0) {
            *hint = c + 1;
            return (int)c;
        }
    }
    return -1;
}

int kafka_parse_json(struct kafka_parser *ps, const char *p, size_t n, struct fl_batch *b,
                     uint32_t r)
{
    const struct fl_schema *s = b->schema;
    uint32_t hint = 0;
    int rc = row_clear(b, r, ps->seen);
    if (rc < 0)
        return rc;
    size_t i = json_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return -FL_EINVAL;
    i = json_ws(p, n, i + 1);
    if (i < n && p[i] == '}')
        return json_ws(p, n, i + 1) == n ? 0 : -FL_EINVAL;
    for (;;) {
        if (i >= n || p[i] != '"' || (rc = json_string(p, n, &i, &ps->key)) < 0)
            return -FL_EINVAL;
        i = json_ws(p, n, i);
        if (i >= n || p[i] != ':')
            return -FL_EINVAL;
        i = json_ws(p, n, i + 1);
        if (i >= n)
            return -FL_EINVAL;
        int c = json_col(ps, s, ps->key.p, ps->key.len, &hint);
        if (c >= 0 && ps->seen[c])
            return -FL_EINVAL;            /* a key twice: which one is meant? */
        if (p[i] == '"') {
            if ((rc = json_string(p, n, &i, &ps->buf)) < 0)
                return rc;
            if (c >= 0 && (rc = row_set(b, r, (uint32_t)c, ps->buf.len ? ps->buf.p : "",
                                        ps->buf.len)) < 0)
                return rc;
        } else if (p[i] == '{' || p[i] == '[') {
            if (json_skip(p, n, &i, &ps->buf) < 0 || c >= 0)
                return -FL_EINVAL;
        } else {
            size_t j = i;
            while (j < n && p[j] != ',' && p[j] != '}' && p[j] != ' ' && p[j] != '\t'
                   && p[j] != '\n' && p[j] != '\r')
                j++;
            bool null = j - i == 4 && memcmp(p + i, "null", 4) == 0;
            bool ok = null || (j - i == 4 && !memcmp(p + i, "true", 4))
                      || (j - i == 5 && !memcmp(p + i, "false", 5))
                      || (j > i && (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')));
            if (!ok)
                return -FL_EINVAL;
            if (c >= 0 && !null && (rc = row_set(b, r, (uint32_t)c, p + i, j - i)) < 0)
                return rc;
            i = j;
        }
        if (c >= 0)
            ps->seen[c] = true;
        i = json_ws(p, n, i);
        if (i < n && p[i] == ',') {
            i = json_ws(p, n, i + 1);
            continue;
        }
        if (i < n && p[i] == '}')
            return json_ws(p, n, i + 1) == n ? 0 : -FL_EINVAL;
        return -FL_EINVAL;
    }
}
