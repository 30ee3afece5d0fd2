#!/usr/bin/env bash
# validate.sh FILE... - validate OSCAL assessment-results documents against
# NIST's schema (compliance/oscal/oscal_assessment-results_schema.json) with
# ajv-cli and ajv-formats, as NIST's own build does. Exit 0 when every file
# is valid, 1 when one is not (ajv's errors on stderr), 2 when ajv is not
# installed (run `make oscal-deps`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ajv="$here/node_modules/.bin/ajv"
if [ ! -x "$ajv" ]; then
    echo "validate.sh: $ajv not found: run make oscal-deps" >&2
    exit 2
fi
rc=0
for f in "$@"; do
    "$ajv" validate --spec=draft7 -c ajv-formats --strict=false --errors=text \
        -s "$here/oscal_assessment-results_schema.json" -d "$f" || rc=1
done
exit "$rc"
