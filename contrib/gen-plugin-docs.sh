#!/bin/sh
# Regenerates the option reference in every plugins/<kind>/<name>/README.md
# from the plugin's option table (flowline plugins --doc), between the
# markers below; the prose around it is kept. With --check, changes nothing
# and fails if a README is out of date (the test suite runs that).
#   contrib/gen-plugin-docs.sh [--check] [FLOWLINE_BIN]
set -eu
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }
bin=${1:-${FLOWLINE_BIN:-build/flowline}}
begin='<!-- reference: generated from the option table by contrib/gen-plugin-docs.sh; do not edit -->'
end='<!-- end of reference -->'
stale=0
for dir in plugins/*/*/; do
    [ -f "$dir/CMakeLists.txt" ] && [ "${dir#plugins/lib/}" = "$dir" ] || continue
    kind=$(basename "$(dirname "$dir")"); name=$(basename "$dir")
    readme=$dir/README.md
    ref=$("$bin" plugins --doc "$kind.$name") || { echo "no plugin $kind.$name built" >&2; exit 1; }
    new=$(mktemp)
    {
        if [ -f "$readme" ] && grep -qF "$begin" "$readme"; then
            sed "/^$(printf '%s' "$begin" | sed 's/[]\/$*.^[]/\\&/g')\$/,\$d" "$readme"
        elif [ -f "$readme" ]; then
            cat "$readme"; echo
        else
            printf '# %s.%s\n\n' "$kind" "$name"
        fi
        echo "$begin"
        echo "$ref" | sed '1{/^# /d}'
        echo "$end"
        if [ -f "$readme" ] && grep -qF "$end" "$readme"; then
            sed "1,/^$(printf '%s' "$end" | sed 's/[]\/$*.^[]/\\&/g')\$/d" "$readme"
        fi
    } > "$new"
    if cmp -s "$new" "$readme" 2>/dev/null; then
        rm -f "$new"
    elif [ $check -eq 1 ]; then
        echo "$readme is out of date: run contrib/gen-plugin-docs.sh" >&2
        diff "$readme" "$new" | head -20 >&2 || true
        rm -f "$new"; stale=1
    else
        mv "$new" "$readme"; echo "updated $readme"
    fi
done
exit $stale
