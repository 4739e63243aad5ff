#!/usr/bin/env bash
# Runs every test of Waypost: vet, the race-enabled test suite (unit,
# property and integration tests), and each fuzz target for a few seconds.
# On a fresh Debian machine it first installs what the tests need.
#
#   scripts/test.sh            everything
#   FUZZTIME=30s scripts/test.sh   longer fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-3s}"

# Outside programs the tests use, from Debian's packages (none yet beyond Go).
need_pkgs=()
if ((${#need_pkgs[@]})); then
	missing=()
	for p in "${need_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if ((${#missing[@]})); then
		echo "== installing ${missing[*]}"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
	fi
fi

echo "== go mod download"
go mod download

echo "== gofmt"
unformatted=$(gofmt -l . 2>/dev/null || true)
if [[ -n "$unformatted" ]]; then
	echo "not gofmt-ed:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...

echo "== fuzz targets, $FUZZTIME each"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "-- $pkg $target"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >/tmp/waypost-fuzz.log 2>&1 || { cat /tmp/waypost-fuzz.log; exit 1; }
	done
done

echo "== all tests passed"
