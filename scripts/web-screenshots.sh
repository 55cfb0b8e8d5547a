#!/usr/bin/env bash
# Remakes the screenshots of docs/web.md (docs/web/*.png) with the browser test of the web
# view: headless Chromium against a real daemon holding the sample records of KZ, CN and RU.
# Needs Debian's chromium and chromium-driver, and CJK fonts (fonts-noto-cjk) for the Chinese
# and Japanese titles.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/web
RIX_WEB_SCREENSHOTS="$PWD/docs/web" RIX_REQUIRE_BROWSER=1 cargo test -p rix-cli --test web -- --nocapture
ls -l docs/web
