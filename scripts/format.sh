#!/usr/bin/env bash
# format.sh - check or apply the committed .clang-format on every tracked C file.
#
#   scripts/format.sh --check   list the files that deviate; exit 1 if any (make format-check)
#   scripts/format.sh --apply   reformat them in place (make format)
#
# The files are the tracked *.c and *.h (git ls-files). CLANG_FORMAT picks the
# program (default clang-format-14 when installed, else clang-format); other
# major versions format some constructs differently, so CI uses Debian's 14.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
--check | --apply) ;;
*) echo "usage: scripts/format.sh --check | --apply" >&2; exit 2 ;;
esac
if [ -z "${CLANG_FORMAT:-}" ]; then
    CLANG_FORMAT=clang-format
    command -v clang-format-14 >/dev/null && CLANG_FORMAT=clang-format-14
fi
command -v "$CLANG_FORMAT" >/dev/null ||
    { echo "format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2; exit 2; }
[ -f .clang-format ] || { echo "format: no .clang-format in $(pwd)" >&2; exit 2; }

mapfile -t files < <(git ls-files '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "format: no tracked C files" >&2; exit 2; }

if [ "$mode" = --apply ]; then
    "$CLANG_FORMAT" -i --style=file "${files[@]}"
    echo "format: applied .clang-format to ${#files[@]} files ($("$CLANG_FORMAT" --version))"
    exit 0
fi

bad=0
for f in "${files[@]}"; do
    if ! err="$("$CLANG_FORMAT" --dry-run -Werror --style=file "$f" 2>&1 >/dev/null)"; then
        if ! grep -q 'Wclang-format-violations' <<<"$err"; then
            echo "format: $CLANG_FORMAT failed on $f:" >&2
            echo "$err" >&2
            exit 2
        fi
        echo "$f"
        bad=$((bad + 1))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "format-check: $bad of ${#files[@]} files deviate from .clang-format; run make format" \
        "(or $CLANG_FORMAT --dry-run -Werror FILE for the lines)" >&2
    exit 1
fi
echo "format-check: ${#files[@]} files match .clang-format"
