#!/usr/bin/env bash
# Runs every test of Waypost: vet, the race-enabled test suite (unit,
# property and integration tests), and each fuzz target for a few seconds.
# On a fresh Debian machine it first installs what the tests need, from
# Debian's packages: that step alone needs root. Once they are installed,
# any user can run it. Each stage prints a "== stage" line as it starts.
#
#   scripts/test.sh            everything
#   FUZZTIME=30s scripts/test.sh   longer fuzzing (a duration, or a count such as 200000x)
set -euo pipefail
cd "$(dirname "$0")/.."

# A count of inputs rather than a duration: Go's fuzzer can end a timed run
# with a spurious "context deadline exceeded" when time runs out while it is
# still working on a new input (no failing input is written then).
FUZZTIME="${FUZZTIME:-100000x}"

# Outside programs the tests use, from Debian's packages: OpenLDAP's slapd
# (with slapadd; ldap-utils for people debugging) for the LDAP directory
# tests, which start a private slapd of their own on a loopback port; and
# two bounce parsers, Sisimai (Perl) and flufl.bounce (Python 3, the one GNU
# Mailman uses), which internal/report's tests run on every kind of report;
# and Python's dkim package, the outside verifier of the DKIM signatures
# (test/edge_test.go).
# Those are in Debian's system perl and /usr/bin/python3; the tests look
# there too when another interpreter comes first in PATH. Chromium for the
# web console's browser test (test/console_test.go, driven with chromedp),
# which fails rather than skips when CI is set. Dovecot's IMAP and LMTP
# servers for the mail client tests (test/dovecot_test.go), which start a
# private Dovecot of their own with packaging/dovecot/waypost.conf; the
# package starts no service where there is no init system, and the tests
# need none.
need_pkgs=(slapd ldap-utils libsisimai-perl python3-flufl.bounce python3-dkim chromium dovecot-imapd dovecot-lmtpd)
if ((${#need_pkgs[@]})); then
	missing=()
	for p in "${need_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if ((${#missing[@]})); then
		echo "== installing ${missing[*]}"
		if ((EUID != 0)); then
			echo "scripts/test.sh: the tests need Debian's ${missing[*]}; installing them needs root." >&2
			echo "Run once as root: apt-get install ${missing[*]}   (then this script runs as any user)" >&2
			exit 1
		fi
		# slapd: no system database; the tests configure their own.
		echo "slapd slapd/no_configuration boolean true" | debconf-set-selections 2>/dev/null || true
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

# staticcheck, pinned as a tool in go.mod (go get -tool): zero findings.
echo "== staticcheck"
go tool staticcheck ./...

echo "== go test -race"
# The integration tests (test/) run real hubs, Dovecot, slapd and Chromium one
# after another: more than go test's default 10 minutes on a loaded machine.
go test -race -count=1 -timeout 30m ./...

echo "== fuzz targets, $FUZZTIME each"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "-- $pkg $target"
		log=$(mktemp)
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
			# The deadline flake above, and only it, earns a second run.
			if grep -q "context deadline exceeded" "$log" && ! grep -q "Failing input written" "$log"; then
				echo "   (fuzzer stopped on its deadline without a finding; running again)"
				go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
			else
				cat "$log"
				exit 1
			fi
		fi
		rm -f "$log"
	done
done

echo "== all tests passed"
