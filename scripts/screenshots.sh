#!/usr/bin/env bash
# Screenshots of the web console for docs/images/ and the README, taken by
# the browser test (test/console_test.go) against a real hub. Needs
# Chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/images
go test -count=1 -run '^TestConsoleInBrowser$' ./test/ -console-screenshots "$PWD/docs/images"
ls -l docs/images/console-*.png
