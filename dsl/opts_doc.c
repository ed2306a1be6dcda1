/* opts_doc.c: a plugin's reference generated from its descriptor and option
 * table (`flowline plugins --doc NAME`): Markdown for people, and a JSON
 * Schema (draft 2020-12) of its `with:` mapping for editors and CI.
 *
 * Nothing here is written by hand per plugin: the table is the one source,
 * and defaults and bounds go through the same value parser as the file. */
#include <stdio.h>
#include <string.h>
#include "opts_int.h"

/* Markdown table cells: a | would end the cell, a newline the row. */
static void doc_md_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void doc_md_bounds(FILE *out, const struct fl_opt *o)
{
    if (o->min && o->max) {
        doc_md_text(out, o->min);
        fputs(" .. ", out);
        doc_md_text(out, o->max);
    } else if (o->min) {
        fputs(">= ", out);
        doc_md_text(out, o->min);
    } else if (o->max) {
        fputs("<= ", out);
        doc_md_text(out, o->max);
    }
}

static void doc_markdown(const struct fl_plugin *p, FILE *out)
{
    const char *kind = fl_kind_name(p->kind);
    fprintf(out, "# %s.%s\n\n", kind, p->name ? p->name : "?");
    if (p->summary)
        fprintf(out, "%s\n\n", p->summary);
    fprintf(out, "- Version: %s\n- Kind: %s\n- Output ports: ", p->version ? p->version : "?", kind);
    if (p->kind == FL_KIND_OUTPUT)
        fputs("none\n", out);
    else if (!p->ports || !p->ports[0])
        fputs("`out`\n", out);
    else
        for (size_t i = 0; p->ports[i]; i++)
            fprintf(out, "%s`%s`%s", i ? ", " : "", p->ports[i], p->ports[i + 1] ? "" : "\n");
    fputs("\n## Options\n\n", out);
    if (!p->opts || !p->opts[0].name) {
        fputs("This plugin takes no options.\n", out);
        return;
    }
    fputs("| Option | Type | Default | Bounds | Unit | Description |\n", out);
    fputs("|---|---|---|---|---|---|\n", out);
    for (const struct fl_opt *o = p->opts; o->name; o++) {
        fprintf(out, "| `%s` | %s", o->name, fl_optv_type_name(o->type));
        if (o->choices && (o->type == FL_OPT_ENUM || o->type == FL_OPT_LIST
                           || o->type == FL_OPT_MAP)) {
            fputs(o->type == FL_OPT_ENUM ? ": " : o->type == FL_OPT_MAP ? " with keys "
                  : (o->flags & FL_OPT_ALL_NONE) ? " (or true/false) of " : " of ", out);
            for (size_t i = 0; o->choices[i]; i++) {
                fprintf(out, "%s`", i ? ", " : "");
                doc_md_text(out, o->choices[i]);
                fputc('`', out);
            }
        }
        fputs(" | ", out);
        if (o->flags & FL_OPT_REQUIRED)
            fputs("required", out);
        else if (o->def) {
            fputc('`', out);
            doc_md_text(out, o->def);
            fputc('`', out);
        }
        fputs(" | ", out);
        doc_md_bounds(out, o);
        fputs(" | ", out);
        doc_md_text(out, o->unit);
        fputs(" | ", out);
        doc_md_text(out, o->doc);
        if (o->alias) {
            fprintf(out, "%s(deprecated name: `", o->doc ? " " : "");
            doc_md_text(out, o->alias);
            fputs("`)", out);
        }
        fputs(" |\n", out);
    }
}

static void doc_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* A value written as in YAML (a default, a bound) as a JSON value of the
 * option's type, or as the string it was written as. */
static void doc_json_value(FILE *out, const struct fl_opt *o, const char *text, bool number_only)
{
    union fl_optv v;
    char err[256];
    struct fl_opt plain = *o;
    plain.min = plain.max = NULL;           /* a default is reported as written */
    if (fl_opt_parse_value(&plain, text, &v, err, sizeof(err)) < 0) {
        doc_json_str(out, text);
        return;
    }
    switch (o->type) {
    case FL_OPT_BOOL: fputs(v.b ? "true" : "false", out); break;
    case FL_OPT_INT: fprintf(out, "%lld", (long long)v.i); break;
    case FL_OPT_UINT: fprintf(out, "%llu", (unsigned long long)v.u); break;
    case FL_OPT_FLOAT: fprintf(out, "%.17g", v.f); break;
    case FL_OPT_SIZE:
        if (number_only) {
            fprintf(out, "%llu", (unsigned long long)v.u);
            break;
        }
        /* fall through */
    default:
        if (o->type == FL_OPT_LIST || o->type == FL_OPT_PATHS) {
            fputc('[', out);
            for (size_t i = 0; i < v.l.n; i++) {
                fputs(i ? ", " : "", out);
                doc_json_str(out, v.l.v[i]);
            }
            fputc(']', out);
        } else if (o->type == FL_OPT_MAP) {
            fputc('{', out);
            for (size_t i = 0; i < v.m.n; i++) {
                fputs(i ? ", " : "", out);
                doc_json_str(out, v.m.key[i]);
                fputs(": ", out);
                doc_json_str(out, v.m.val[i]);
            }
            fputc('}', out);
        } else
            doc_json_str(out, text);
    }
    fl_optv_free(o->type, &v);
}

static void doc_json_bounds(FILE *out, const struct fl_opt *o, const char *ind)
{
    if (o->type != FL_OPT_INT && o->type != FL_OPT_UINT && o->type != FL_OPT_FLOAT
        && o->type != FL_OPT_SIZE)
        return;         /* durations are strings only: bounds live in the description */
    if (o->min) {
        fprintf(out, ",\n%s\"minimum\": ", ind);
        doc_json_value(out, o, o->min, true);
    } else if (o->type == FL_OPT_UINT || o->type == FL_OPT_SIZE)
        fprintf(out, ",\n%s\"minimum\": 0", ind);
    if (o->max) {
        fprintf(out, ",\n%s\"maximum\": ", ind);
        doc_json_value(out, o, o->max, true);
    }
}

static void doc_json_type(FILE *out, const struct fl_opt *o, const char *ind)
{
    static const char *scalar = "[\"string\", \"number\", \"boolean\"]";
    switch (o->type) {
    case FL_OPT_BOOL:
        fprintf(out, "%s\"type\": \"boolean\"", ind);
        break;
    case FL_OPT_INT:
    case FL_OPT_UINT:
        fprintf(out, "%s\"type\": [\"integer\", \"string\"],\n%s\"pattern\": \"^%s([0-9]+[kMG]?|0[xX][0-9a-fA-F]+)$\"",
                ind, ind, o->type == FL_OPT_INT ? "-?" : "");
        break;
    case FL_OPT_FLOAT:
        fprintf(out, "%s\"type\": \"number\"", ind);
        break;
    case FL_OPT_DURATION:
        fprintf(out, "%s\"anyOf\": [\n%s  { \"type\": \"string\", \"pattern\": "
                "\"^(([0-9]+|[0-9]*\\\\.[0-9]+)(ns|us|\\u00b5s|ms|s|m|h|d))+$\" },\n%s  { \"const\": 0 }\n%s]",
                ind, ind, ind, ind);
        break;
    case FL_OPT_SIZE:
        fprintf(out, "%s\"type\": [\"integer\", \"string\"],\n%s\"pattern\": "
                "\"^([0-9]+|[0-9]*\\\\.[0-9]+)(B|k|K|KiB|m|M|MiB|g|G|GiB|t|T|TiB|kB|KB|MB|GB|TB)?$\"",
                ind, ind);
        break;
    case FL_OPT_ADDR:
        fprintf(out, "%s\"type\": \"string\",\n%s\"anyOf\": [{ \"format\": \"ipv4\" }, { \"format\": \"ipv6\" }]",
                ind, ind);
        break;
    case FL_OPT_ENDPOINT:
        fprintf(out, "%s\"type\": \"string\",\n%s\"pattern\": \"^((udp|tcp)://.+:[0-9]+|(inproc|ipc)://.+)$\"",
                ind, ind);
        break;
    case FL_OPT_ENUM:
        fprintf(out, "%s\"enum\": [", ind);
        for (size_t i = 0; o->choices && o->choices[i]; i++) {
            fputs(i ? ", " : "", out);
            doc_json_str(out, o->choices[i]);
        }
        fputc(']', out);
        break;
    case FL_OPT_LIST:
    case FL_OPT_PATHS:
        if (o->type == FL_OPT_LIST && o->choices) {
            /* items among the choices; FL_OPT_ALL_NONE: or true/false */
            fprintf(out, "%s\"anyOf\": [\n%s  { \"type\": \"array\", \"items\": { \"enum\": [", ind,
                    ind);
            for (size_t i = 0; o->choices[i]; i++) {
                fputs(i ? ", " : "", out);
                doc_json_str(out, o->choices[i]);
            }
            fprintf(out, "] } },\n%s  { \"enum\": [", ind);
            for (size_t i = 0; o->choices[i]; i++) {
                fputs(i ? ", " : "", out);
                doc_json_str(out, o->choices[i]);
            }
            fputs("] }", out);
            if (o->flags & FL_OPT_ALL_NONE)
                fprintf(out, ",\n%s  { \"type\": \"boolean\" }", ind);
            fprintf(out, "\n%s]", ind);
            break;
        }
        fprintf(out, "%s\"anyOf\": [\n%s  { \"type\": \"array\", \"items\": { \"type\": %s } },\n"
                "%s  { \"type\": %s }\n%s]", ind, ind, scalar, ind, scalar, ind);
        break;
    case FL_OPT_MAP:
        fprintf(out, "%s\"type\": \"object\",\n%s\"additionalProperties\": { \"type\": %s }",
                ind, ind, scalar);
        break;
    default:
        fprintf(out, "%s\"type\": \"string\"", ind);
    }
    doc_json_bounds(out, o, ind);
}

static void doc_json_prop(FILE *out, const struct fl_opt *o, const char *name, bool deprecated)
{
    const char *ind = "      ";
    char desc[1024];
    fputs("    ", out);
    doc_json_str(out, name);
    fputs(": {\n", out);
    doc_json_type(out, o, ind);
    size_t n = 0;
    desc[0] = 0;
    if (deprecated)
        n += (size_t)snprintf(desc + n, sizeof(desc) - n, "Deprecated: use %s. ", o->name);
    if (o->doc && n < sizeof(desc))
        n += (size_t)snprintf(desc + n, sizeof(desc) - n, "%s", o->doc);
    if (o->unit && n < sizeof(desc))
        n += (size_t)snprintf(desc + n, sizeof(desc) - n, " (%s)", o->unit);
    if (o->min && o->max && n < sizeof(desc))
        snprintf(desc + n, sizeof(desc) - n, " (range: %s to %s)", o->min, o->max);
    else if (o->min && n < sizeof(desc))
        snprintf(desc + n, sizeof(desc) - n, " (at least %s)", o->min);
    else if (o->max && n < sizeof(desc))
        snprintf(desc + n, sizeof(desc) - n, " (at most %s)", o->max);
    fprintf(out, ",\n%s\"description\": ", ind);
    doc_json_str(out, desc);
    fprintf(out, ",\n%s\"x-flowline-type\": \"%s\"", ind, fl_optv_type_name(o->type));
    if (o->def && !(o->flags & FL_OPT_REQUIRED)) {
        fprintf(out, ",\n%s\"default\": ", ind);
        doc_json_value(out, o, o->def, false);
    }
    if (deprecated)
        fprintf(out, ",\n%s\"deprecated\": true", ind);
    fputs("\n    }", out);
}

static void doc_json(const struct fl_plugin *p, FILE *out)
{
    bool first = true;
    char title[256];
    snprintf(title, sizeof(title), "%s.%s", fl_kind_name(p->kind), p->name ? p->name : "?");
    fputs("{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n  \"title\": ", out);
    doc_json_str(out, title);
    fputs(",\n  \"description\": ", out);
    doc_json_str(out, p->summary ? p->summary : "");
    fputs(",\n  \"x-flowline-version\": ", out);
    doc_json_str(out, p->version ? p->version : "");
    fputs(",\n  \"type\": \"object\",\n  \"additionalProperties\": false,\n  \"properties\": {", out);
    for (const struct fl_opt *o = p->opts; o && o->name; o++) {
        fputs(first ? "\n" : ",\n", out);
        first = false;
        doc_json_prop(out, o, o->name, false);
        if (o->alias) {
            fputs(",\n", out);
            doc_json_prop(out, o, o->alias, true);
        }
    }
    fputs(first ? "}" : "\n  }", out);
    first = true;
    for (const struct fl_opt *o = p->opts; o && o->name; o++)
        if (o->flags & FL_OPT_REQUIRED) {
            fputs(first ? ",\n  \"required\": [" : ", ", out);
            first = false;
            doc_json_str(out, o->name);
        }
    fputs(first ? "\n}\n" : "]\n}\n", out);
}

int fl_opts_doc(const struct fl_plugin *p, bool json, FILE *out)
{
    if (json)
        doc_json(p, out);
    else
        doc_markdown(p, out);
    return ferror(out) ? -FL_EIO : 0;
}
