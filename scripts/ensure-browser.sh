#!/usr/bin/env bash
# Make sure the system Chromium that the browser tests drive is present.
# Installs Debian's chromium when it can (root with apt-get); otherwise says why the browser
# tests will be skipped. It never downloads a browser build of its own.
set -u
for candidate in "${KUAIDAN_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    exit 0
  fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null \
    && { echo "chromium installed"; exit 0; }
  echo "warning: could not install chromium; browser tests will be skipped" >&2
else
  echo "note: chromium is not installed and cannot be installed here (needs root and apt-get);" \
       "browser tests will be skipped" >&2
fi
exit 0
