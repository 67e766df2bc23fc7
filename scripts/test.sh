#!/usr/bin/env bash
# The test command (README, .ci/run): installs everything the tests need on a fresh machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }
# torch is pinned to the CPU build (2.13.0) in the same command as everything that needs it
pip_install -e ".[train,shrink,web,dev]" "torch==2.13.0"
pip_install "ray[data]==2.60.0" matplotlib
# optional exporters (large); their tests skip with a reason when absent
if [ "${FRAMESTYLE_SKIP_HEAVY:-0}" != "1" ]; then
  pip_install "torch==2.13.0" "litert-torch==0.10.0" "ai-edge-litert==2.3.0" "coremltools==9.0" || \
    echo "note: TFLite/CoreML extras did not install; their tests will skip"
fi
# Debian Chromium for the browser test; opencv-doc photos are the default training content
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
[ -d /usr/share/doc/opencv-doc/examples/data ] || need+=(opencv-doc)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = "0" ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) || \
    echo "note: ${need[*]} did not install; the tests that need them will skip"
fi
if command -v npm >/dev/null 2>&1; then bash scripts/fetch_web_assets.sh || echo "note: web assets not fetched"; fi
export RAY_USAGE_STATS_ENABLED=0
exec "$PY" -m pytest -q -p no:cacheprovider "$@"
