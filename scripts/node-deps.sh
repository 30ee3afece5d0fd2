#!/usr/bin/env bash
# node-deps.sh - make sure node and npm are on the machine (for the OSCAL
# validator, compliance/oscal, and the Azure SDK check, vault-mock/tools).
# A node that came with its own npm (e.g. a nodesource build) is kept;
# otherwise Debian's nodejs and npm are installed through scripts/deps.sh.
set -euo pipefail
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    exit 0
fi
CMK_EXTRA_PKGS="nodejs npm" exec "$(dirname "$0")/deps.sh"
