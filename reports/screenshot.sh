#!/usr/bin/env bash
# screenshot.sh - render reports/out/index.html in headless Chromium (Debian's
# chromium package) to PNG, to check the page as a browser shows it.
#
# Usage: reports/screenshot.sh [HTML] [PNG] [WIDTH] [HEIGHT]
#   defaults: reports/out/index.html reports/out/index.png 1280 16000
# Not part of make test: Chromium is about 100 MB. As root it is installed
# with apt-get when missing; otherwise the command to run is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
html=${1:-reports/out/index.html}
png=${2:-reports/out/index.png}
width=${3:-1280}
height=${4:-16000}
[ -f "$html" ] || { echo "screenshot: $html not found (run make report)" >&2; exit 2; }
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y chromium >/dev/null
    else
        echo "screenshot: chromium missing: sudo apt-get install -y chromium" >&2
        exit 2
    fi
fi
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,$height" \
    --screenshot="$(realpath -m "$png")" "file://$(realpath "$html")" 2>/dev/null
[ -s "$png" ] || { echo "screenshot: chromium wrote nothing" >&2; exit 1; }
echo "screenshot: wrote $png (${width}x${height})"
