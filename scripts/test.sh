#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# Chromium renders the HTML report in its test.
LAYERWATCH_EXTRA_PACKAGES="chromium ${LAYERWATCH_EXTRA_PACKAGES:-}" ./scripts/install-deps.sh
./scripts/build.sh
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
