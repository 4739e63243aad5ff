#!/usr/bin/env bash
# relay.sh -- loopback relay benchmark: Postfix's smtp-source sends through a
# Waypost hub to Postfix's smtp-sink, then the same load through a stock
# Postfix relay, in the same run (../shared/bench/postfix-baseline.sh does the
# timing for both). Prints each system's accept and end-to-end rates and the
# ratio Waypost / Postfix. Every socket is on 127.0.0.1.
#
#   bench/relay.sh                       # 10000 x 2 KiB messages, 20 sessions
#   MSGS=2000 SESSIONS=10 bench/relay.sh
#
# Needs root (Postfix's master) and Debian's postfix package, which it
# installs when missing. Durability is on for both: Waypost fsyncs before
# 250, Postfix does by default.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASELINE=${BASELINE:-$ROOT/../shared/bench/postfix-baseline.sh}
[[ -r $BASELINE ]] || { echo "relay.sh: $BASELINE not found (the shared/ folder beside the project)" >&2; exit 1; }

if ! command -v /usr/sbin/smtp-source >/dev/null || ! command -v /usr/sbin/postfix >/dev/null; then
	echo "relay.sh: installing postfix (for smtp-source, smtp-sink and the baseline)" >&2
	apt-get update -qq
	# No local mail system: Postfix is only started by the baseline, privately.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi

WORK=$(mktemp -d -t waypost-relay.XXXXXX)
trap 'rm -rf -- "$WORK"' EXIT
go build -o "$WORK/waypost" ./cmd/waypost

# The hub's organization: one server, the load generator's address in
# relay_ranges, and one send connector to the sink. SUT_PORT and SINK_PORT
# come from the baseline's environment.
export WAYPOST_BIN="$WORK/waypost"
SUT_CMD='cat > "$BENCH_WORKDIR/org.toml" <<TOML
[organization]
default_domain = "bench.test"
[[site]]
name = "Bench"
[[server]]
name = "hub"
site = "Bench"
data_dir = "data"
  [[server.receive]]
  name = "Load"
  listen = "$SUT_ADDR:$SUT_PORT"
  relay_ranges = ["127.0.0.0/8"]
  max_recipients = 1000
  max_connections_per_ip = 0        # one load generator opens all SESSIONS
[[accepted_domain]]
domain = "bench.test"
[[send_connector]]
name = "Sink"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub"]
delivery = { kind = "smtp", smart_hosts = ["$SINK_ADDR:$SINK_PORT"], tls = "none" }
TOML
exec "$WAYPOST_BIN" serve --config "$BENCH_WORKDIR/org.toml" --server hub'

waypost=$(SUT_CMD="$SUT_CMD" SUT_NAME=waypost bash "$BASELINE")
echo "$waypost"
postfix=$(SUT=postfix SUT_NAME=postfix bash "$BASELINE")
echo "$postfix"

rate() { sed -E "s/.*$1 ([0-9.]+) msg\/s.*/\1/" <<<"$2"; }
awk -v wa="$(rate accept "$waypost")" -v we="$(rate end-to-end "$waypost")" \
    -v pa="$(rate accept "$postfix")" -v pe="$(rate end-to-end "$postfix")" \
    'BEGIN { printf "waypost / postfix: accept %.2fx, end-to-end %.2fx\n", wa / pa, we / pe }'
