/* fuzz_cql.c: libFuzzer target for output.cassandra's CQL v4 response
 * decoder (plugins/output/cassandra: cql_frame.c, cql_resp.c). An input is
 * what a server sends on a connection: response frames one after another.
 * Each whole frame's body is decoded from a copy of exactly its length (so
 * ASan sees any read past it); a bad header ends the stream, as it ends a
 * connection. Checks: no crash; only the documented results; on success
 * every slice the decoder returns lies inside the body, column counts are
 * bounded and partition key indexes name bound columns.
 *
 * Seeds: `fuzz_cql --write-seeds CORPUS` writes every kind of response a
 * server sends (READY, AUTHENTICATE, AUTH_SUCCESS, SUPPORTED, ERROR of each
 * code with its body, RESULT Void with tracing/warning/custom payload,
 * Set_keyspace, Schema_change, Prepared, Rows with nested types, EVENT),
 * one per file, and the whole sequence as one more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cql.h"
#include "cql_build.h"

static struct cql_col bind_cols[CQL_MAX_COLS], result_cols[CQL_MAX_COLS];

static void inside(const struct cql_slice *s, const uint8_t *body, size_t len)
{
    if (s->p && (s->p < body || s->p + s->len > body + len))
        abort();
    if (!s->p && s->len)
        abort();
}

static void check_meta(const struct cql_meta *m, const uint8_t *body, size_t len)
{
    if (m->ncols < 0 || (uint32_t)m->ncols > CQL_MAX_COLS)
        abort();
    inside(&m->paging_state, body, len);
    if (m->no_metadata)
        return;
    for (int32_t i = 0; i < m->ncols; i++) {
        inside(&m->cols[i].ks, body, len);
        inside(&m->cols[i].table, body, len);
        inside(&m->cols[i].name, body, len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    struct cql_resp *r = malloc(sizeof *r);
    if (!r)
        abort();
    while (off < size) {
        struct cql_hdr h;
        int rc = cql_hdr_decode(data + off, size - off, &h);
        if (rc < 0)
            break;
        if (size - off - CQL_HDR_LEN < h.length)
            break;
        uint8_t *body = malloc(h.length ? h.length : 1);
        if (!body)
            abort();
        memcpy(body, data + off + CQL_HDR_LEN, h.length);
        rc = cql_resp_decode(&h, body, bind_cols, result_cols, r);
        if (rc != 0 && rc != -FL_EPROTO && rc != -FL_ERANGE)
            abort();
        if (rc == 0) {
            const struct cql_slice *sl[] = {
                &r->tracing_id, &r->warning0, &r->error.message, &r->error.write_type,
                &r->error.keyspace, &r->error.table, &r->error.function,
                &r->error.unprepared_id, &r->authenticator, &r->token, &r->cql_version,
                &r->keyspace, &r->change_type, &r->target, &r->sc_keyspace, &r->sc_name,
                &r->prepared_id, &r->rows, &r->event_type
            };
            for (size_t i = 0; i < sizeof sl / sizeof sl[0]; i++)
                inside(sl[i], body, h.length);
            if (h.opcode == CQL_OP_RESULT && r->kind == CQL_RESULT_PREPARED) {
                check_meta(&r->bind, body, h.length);
                check_meta(&r->result, body, h.length);
                if (r->n_pk < 0 || r->n_pk > r->bind.ncols)
                    abort();
                for (int32_t i = 0; i < r->n_pk; i++)
                    if (r->pk[i] >= r->bind.ncols)
                        abort();
            }
            if (h.opcode == CQL_OP_RESULT && r->kind == CQL_RESULT_ROWS) {
                check_meta(&r->result, body, h.length);
                if (r->nrows < 0)
                    abort();
            }
            /* a decoded error's name and retry class exist for any code */
            if (h.opcode == CQL_OP_ERROR && !cql_error_name(r->error.code))
                abort();
        }
        free(body);
        off += CQL_HDR_LEN + h.length;
    }
    free(r);
    return 0;
}

/* ---- seeds --------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(p, 1, n, f);
    return fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc < 3 || strcmp((*argv)[1], "--write-seeds") != 0)
        return 0;
    const char *dir = (*argv)[2];
    struct cql_wr w = { 0 };
    cql_build_all(&w);
    if (w.err)
        exit(1);
    size_t off = 0;
    int n = 0;
    while (off + CQL_HDR_LEN <= w.len) {
        uint32_t len = (uint32_t)w.p[off + 5] << 24 | (uint32_t)w.p[off + 6] << 16 |
                       (uint32_t)w.p[off + 7] << 8 | w.p[off + 8];
        char name[32];
        snprintf(name, sizeof name, "frame-%02d", n++);
        if (write_file(dir, name, w.p + off, CQL_HDR_LEN + len) < 0)
            exit(1);
        off += CQL_HDR_LEN + len;
    }
    if (write_file(dir, "session", w.p, w.len) < 0)
        exit(1);
    printf("wrote %d seeds to %s\n", n + 1, dir);
    cql_wr_free(&w);
    exit(0);
}
