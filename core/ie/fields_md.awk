# core/ie/fields_md.awk: prints the short-name table of docs/fields.md from
# the TSVs: awk -f core/ie/fields_md.awk core/ie/iana.tsv core/ie/fields.tsv
# (iana.tsv first: it supplies the element ids).
BEGIN { FS = "\t"; print "| name | type | element | aliases | meaning |"; print "|---|---|---|---|---|" }
/^#/ || NF == 0 { next }
FILENAME ~ /iana/ { id[$2] = $1; next }
{
    if ($3 == "-") el = "FL_PEN/" $4
    else { n = split($3, e, ","); el = ""; for (i = 1; i <= n; i++) el = el (i > 1 ? ", " : "") e[i] " (" id[e[i]] ")" }
    al = ($5 == "-") ? "" : $5; gsub(/,/, ", ", al)
    d = $6; gsub(/\|/, "\\|", d)
    printf "| `%s` | %s | %s | %s | %s |\n", $1, $2, el, al, d
}
