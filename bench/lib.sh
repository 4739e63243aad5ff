# bench/lib.sh -- the parts the benchmarks in bench/ share; sourced, not run.
#
# Every socket is on the loopback address BENCH_ADDR (127.x.x.x only). The
# load generator and the counting sink are Postfix's smtp-source and
# smtp-sink (Debian package postfix); the Postfix baseline is a private
# Postfix instance built in the work folder, which never touches
# /etc/postfix, the system's queue or syslog. Everything a benchmark starts
# is stopped by its PID (or `postfix -c DIR stop`) when it exits.

set -euo pipefail
export LC_ALL=C # '.' as the decimal separator for printf and awk
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

BENCH_ADDR=${BENCH_ADDR:-127.0.0.1}
[[ $BENCH_ADDR =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
	{ echo "bench: BENCH_ADDR must be a 127.x.x.x address, not '$BENCH_ADDR'" >&2; exit 1; }
(( BASH_VERSINFO[0] >= 5 )) || { echo "bench: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }

say() { printf '[%s %s] %s\n' "${0##*/}" "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

# need_postfix installs Debian's postfix package when smtp-source, smtp-sink
# or postfix is missing. Postfix is not configured as the system's mailer:
# the baseline starts its own private instance.
need_postfix() {
	command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null && command -v postfix >/dev/null && return 0
	(( EUID == 0 )) || fail "Debian's postfix package is missing and installing it needs root"
	say "installing postfix (smtp-source, smtp-sink, and the baseline)"
	apt-get update -qq
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null </dev/null
}

# build_waypost DIR builds the binary of this tree into DIR/waypost, or
# copies WAYPOST_BIN there when it is set (a binary built from another
# commit, for an A/B comparison in the same minutes).
build_waypost() {
	if [[ -n ${WAYPOST_BIN:-} ]]; then
		[[ -x $WAYPOST_BIN ]] || fail "WAYPOST_BIN '$WAYPOST_BIN' is not an executable"
		cp -- "$WAYPOST_BIN" "$1/waypost"
		return
	fi
	(cd "$BENCH_ROOT" && go build -o "$1/waypost" ./cmd/waypost)
}

# port_free PORT fails when something listens on BENCH_ADDR:PORT.
port_free() { ! timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$BENCH_ADDR" "$1" 2>/dev/null; }

# greets PORT: something on BENCH_ADDR:PORT answers with an SMTP 220.
greets() {
	timeout 4 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
		IFS= read -r -t 3 l <&3 || exit 1
		printf "QUIT\r\n" >&3
		[[ $l == 220* ]]' "$BENCH_ADDR" "$1" 2>/dev/null
}

# wait_greeting PORT SECONDS [PID]: until PORT greets, or PID has died.
wait_greeting() {
	local until=$((SECONDS + $2))
	while ((SECONDS < until)); do
		greets "$1" && return 0
		[[ -n ${3:-} ]] && ! kill -0 "$3" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# stop_pid PID: TERM, up to 10 s, then KILL. Only for PIDs we started.
stop_pid() {
	local pid=$1 i
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- the sink
# start_sink PORT COUNTFILE: smtp-sink counting messages into COUNTFILE;
# sets SINK_PID.
start_sink() {
	local args=(-c -h sink.bench.invalid)
	(( EUID == 0 )) && args+=(-u nobody) # smtp-sink will not run as root
	smtp-sink "${args[@]}" "$BENCH_ADDR:$1" 1024 >"$2" 2>"$2.err" &
	SINK_PID=$!
	wait_greeting "$1" 15 "$SINK_PID" || { cat "$2.err" >&2; fail "smtp-sink did not start on port $1"; }
}

# sink_count COUNTFILE: messages the sink has received, from the last
# "mesg=N" of its running counter.
sink_count() {
	local t n
	t=$(tail -c 160 "$1" 2>/dev/null) || true
	[[ $t == *mesg=* ]] || { echo 0; return; }
	n=${t##*mesg=}
	n=${n%%[!0-9]*}
	echo "${n:-0}"
}

# ---------------------------------------------------------------- hub CPU
# proc_cpu PID: "utime stime" of the process, in clock ticks (fields 14
# and 15 of /proc/PID/stat, proc(5)); the command name in field 2 may hold
# spaces, so fields are counted after its closing parenthesis.
proc_cpu() {
	local s
	s=$(<"/proc/$1/stat")
	s=${s##*) }
	read -r -a f <<<"$s"
	echo "${f[11]} ${f[12]}" # fields 14 and 15, counted from field 3
}
CLK_TCK=$(getconf CLK_TCK)

# machine_busy: the clock ticks every CPU of the machine has spent busy
# since boot (the first line of /proc/stat, proc(5): user, nice, system,
# irq, softirq and steal; idle and iowait left out).
machine_busy() {
	local _ user nice system idle iowait irq softirq steal
	read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
	echo $((user + nice + system + irq + softirq + steal))
}

# ---------------------------------------------------------------- Waypost
# start_waypost WORK PORT SINK_PORT [API_PORT]: a hub in WORK/hub with one
# receive connector on PORT that relays for 127.0.0.0/8 and one send
# connector to the sink on SINK_PORT; with API_PORT, the HTTP API (and
# /metrics) there; HUB_RETRY, when set (a duration such as 1h), is every
# interval of the retry schedule. Sets HUB_PID and HUB_CONFIG.
start_waypost() {
	local work=$1 port=$2 sink=$3 api=${4:-}
	mkdir -p "$work/hub"
	HUB_CONFIG=$work/hub/org.toml
	cat >"$HUB_CONFIG" <<TOML
[organization]
default_domain = "bench.test"
${HUB_RETRY:+retry = { glitch_interval = \"$HUB_RETRY\", transient_interval = \"$HUB_RETRY\", outbound_interval = \"$HUB_RETRY\" \}}
[[site]]
name = "Bench"
[[server]]
name = "hub"
site = "Bench"
data_dir = "data"
${api:+api = \"$BENCH_ADDR:$api\"}
  [[server.receive]]
  name = "Load"
  listen = "$BENCH_ADDR:$port"
  relay_ranges = ["127.0.0.0/8"]
  max_recipients = 1000
  max_connections_per_ip = 0        # one load generator opens every session
  sender_auth = "off"               # as the Postfix baseline: no SPF/DKIM/DMARC (their cost: docs/performance.md)
[[accepted_domain]]
domain = "bench.test"
[[send_connector]]
name = "Sink"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub"]
delivery = { kind = "smtp", smart_hosts = ["$BENCH_ADDR:$sink"], tls = "none" }
TOML
	HUB_WRAP_PID=
	if [[ -n ${HUB_WRAP:-} ]]; then
		# The hub runs under a command such as `perf stat ... --`: HUB_PID
		# is the hub itself, the wrapper's child.
		$HUB_WRAP "$work/waypost" serve --config "$HUB_CONFIG" --server hub >"$work/hub/hub.log" 2>&1 &
		HUB_WRAP_PID=$!
		local i
		for ((i = 0; i < 100; i++)); do
			HUB_PID=$(pgrep -P "$HUB_WRAP_PID" -x waypost || true)
			[[ -n $HUB_PID ]] && break
			sleep 0.1
		done
		[[ -n $HUB_PID ]] || fail "the hub did not start under '$HUB_WRAP'"
	else
		"$work/waypost" serve --config "$HUB_CONFIG" --server hub >"$work/hub/hub.log" 2>&1 &
		HUB_PID=$!
	fi
	wait_greeting "$port" 30 "$HUB_PID" || { tail -20 "$work/hub/hub.log" >&2; fail "the Waypost hub did not start"; }
}

# start_waypost_pair WORK PORT SINK_PORT RELAY1 RELAY2 MODE: two hubs of
# one site sharing a hub secret (issue 19's multi-hub variant): hub1 takes
# the load on PORT and delivers to the sink; hub2 takes hub1's shadow copies
# on its relay listener (RELAY2) with shadow_on_receive = MODE (off,
# best_effort, required). Sets HUB_PID (hub1), HUB2_PID and HUB_CONFIG.
start_waypost_pair() {
	local work=$1 port=$2 sink=$3 relay1=$4 relay2=$5 mode=$6
	mkdir -p "$work/hub"
	HUB_CONFIG=$work/hub/org.toml
	head -c 32 /dev/urandom | base64 >"$work/hub/hub.secret"
	cat >"$HUB_CONFIG" <<TOML
[organization]
default_domain = "bench.test"
hub_secret_file = "hub.secret"
shadow_on_receive = "$mode"
[[site]]
name = "Bench"
[[server]]
name = "hub1"
site = "Bench"
data_dir = "data1"
relay = "$BENCH_ADDR:$relay1"
  [[server.receive]]
  name = "Load"
  listen = "$BENCH_ADDR:$port"
  relay_ranges = ["127.0.0.0/8"]
  max_recipients = 1000
  max_connections_per_ip = 0        # one load generator opens every session
  sender_auth = "off"               # as the single-hub run
[[server]]
name = "hub2"
site = "Bench"
data_dir = "data2"
relay = "$BENCH_ADDR:$relay2"
[[accepted_domain]]
domain = "bench.test"
[[send_connector]]
name = "Sink"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = ["$BENCH_ADDR:$sink"], tls = "none" }
TOML
	HUB_WRAP_PID=
	"$work/waypost" serve --config "$HUB_CONFIG" --server hub2 >"$work/hub/hub2.log" 2>&1 &
	HUB2_PID=$!
	wait_greeting "$relay2" 30 "$HUB2_PID" || { tail -20 "$work/hub/hub2.log" >&2; fail "hub2 did not start"; }
	"$work/waypost" serve --config "$HUB_CONFIG" --server hub1 >"$work/hub/hub.log" 2>&1 &
	HUB_PID=$!
	wait_greeting "$port" 30 "$HUB_PID" || { tail -20 "$work/hub/hub.log" >&2; fail "hub1 did not start"; }
}

# stop_waypost: stops the hub (and the command it runs under).
stop_waypost() {
	[[ -n ${HUB_PID:-} ]] && stop_pid "$HUB_PID"
	[[ -n ${HUB2_PID:-} ]] && stop_pid "$HUB2_PID"
	HUB2_PID=
	[[ -n ${HUB_WRAP_PID:-} ]] && { wait "$HUB_WRAP_PID" 2>/dev/null || true; }
	HUB_PID= HUB_WRAP_PID=
}

# ---------------------------------------------------------------- Postfix
# start_postfix WORK PORT SINK_PORT: a private Postfix instance in
# WORK/postfix (its own config, queue and data folders and log file)
# listening on PORT and relaying everything to the sink, with Postfix's
# default durability (each queue file fsynced before the 250). Sets PF_DIR.
start_postfix() {
	local work=$1 port=$2 sink=$3
	(( EUID == 0 )) || fail "the Postfix baseline needs root (Postfix's master runs as root)"
	PF_DIR=$work/postfix
	[[ $PF_DIR =~ ^[A-Za-z0-9_./-]+$ ]] || fail "work folder '$PF_DIR' has characters Postfix will not take"
	mkdir -p "$PF_DIR/etc" "$PF_DIR/queue"
	chmod 0755 "$work" "$PF_DIR" # Postfix's daemons run as user postfix
	cat >"$PF_DIR/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
maillog_file = $PF_DIR/postfix.log
maillog_file_prefixes = $PF_DIR
myhostname = postfix.bench.invalid
inet_interfaces = $BENCH_ADDR
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = [$BENCH_ADDR]:$sink
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
smtp_destination_concurrency_limit = 20
smtp_tls_security_level = none
smtpd_tls_security_level = none
notify_classes =
biff = no
EOF
	# The services a relay needs, none chrooted.
	cat >"$PF_DIR/etc/master.cf" <<EOF
$BENCH_ADDR:$port inet n - n - - smtpd
pickup     unix n - n 60 1 pickup
cleanup    unix n - n -  0 cleanup
qmgr       unix n - n 300 1 qmgr
rewrite    unix - - n -  - trivial-rewrite
bounce     unix - - n -  0 bounce
defer      unix - - n -  0 bounce
trace      unix - - n -  0 bounce
verify     unix - - n -  1 verify
flush      unix n - n 1000? 0 flush
proxymap   unix - - n -  - proxymap
proxywrite unix - - n -  1 proxymap
smtp       unix - - n -  - smtp
relay      unix - - n -  - smtp
showq      unix n - n -  - showq
error      unix - - n -  - error
retry      unix - - n -  - error
discard    unix - - n -  - discard
anvil      unix - - n -  1 anvil
scache     unix - - n -  1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
	postfix -c "$PF_DIR/etc" check >"$PF_DIR/check.log" 2>&1 || { cat "$PF_DIR/check.log" >&2; fail "postfix check"; }
	PF_STARTED=1
	postfix -c "$PF_DIR/etc" start >"$PF_DIR/start.log" 2>&1 || { cat "$PF_DIR/start.log" >&2; fail "postfix start"; }
	wait_greeting "$port" 30 || fail "the Postfix baseline did not start"
}

stop_postfix() {
	[[ ${PF_STARTED:-0} == 1 ]] || return 0
	PF_STARTED=0
	postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1 || true
	local pid i
	pid=$(tr -dc 0-9 <"$PF_DIR/queue/pid/master.pid" 2>/dev/null || true)
	for ((i = 0; i < 100; i++)); do [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	postfix -c "$PF_DIR/etc" abort >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- the load
# send_load PORT N OUT: smtp-source sends N messages of SIZE bytes over
# SESSIONS sessions to PORT, in the background, one connection per message
# (smtp-source's default), or every message of a session over one
# connection with KEEP_CONNECTIONS=1 (smtp-source -d); when it is done, OUT.done
# holds its exit status and the time it ended. Sets SOURCE_PID.
send_load() {
	local port=$1 n=$2 out=$3
	rm -f "$out.done"
	(
		rc=0
		local keep=()
		[[ ${KEEP_CONNECTIONS:-0} == 1 ]] && keep=(-d)
		smtp-source "${keep[@]}" -s "$SESSIONS" -l "$SIZE" -m "$n" -f bench@source.invalid -t sink@sink.invalid \
			-M source.bench.invalid "$BENCH_ADDR:$port" >"$out" 2>&1 || rc=$?
		echo "$rc $EPOCHREALTIME" >"$out.tmp" && mv "$out.tmp" "$out.done"
	) &
	SOURCE_PID=$!
}

# wait_count COUNTFILE TARGET STALL: until the sink has TARGET messages;
# fails after STALL seconds without progress. Sets COUNT_END to the time
# the last one was counted (the counter file's mtime).
wait_count() {
	local f=$1 target=$2 stall=$3 c last=-1 since=$SECONDS
	while :; do
		c=$(sink_count "$f")
		((c != last)) && { last=$c; since=$SECONDS; }
		if ((c >= target)); then
			COUNT_END=$(stat -c %.6Y "$f")
			return 0
		fi
		((SECONDS - since <= stall)) || { say "the sink stalled at $c of $target"; return 1; }
		sleep 0.02
	done
}
