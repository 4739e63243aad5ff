#!/usr/bin/env bash
# backlog.sh -- a hub with a large queue: the day a connector's target is down.
#
#   smtp-source --SMTP--> Waypost hub on 127.0.0.1:SUT_PORT --SMTP--> (nothing) 127.0.0.1:SINK_PORT
#
# 1. With nothing listening on the send connector's target, smtp-source
#    queues MSGS messages of SIZE bytes (default 100000 x 2 KiB); every
#    first attempt fails (connection refused) and the messages wait.
#    Every retry interval is RETRY (default 1h, as for a partner down for
#    the day): with the default schedule (4 x 1m, then 5m) a backlog that
#    took minutes to queue is being retried while it is measured, and the
#    "idle" hub is busy failing thousands of attempts a second.
# 2. After SETTLE seconds, the idle hub's CPU over IDLE seconds, from
#    /proc/PID/stat (user and system, as a share of one core).
# 3. The time of one GET /metrics and of `waypost queue list`.
# 4. smtp-sink comes up on the target and `waypost queue retry` makes
#    every message due (as an operator would once the partner is back);
#    the drain rate is MSGS / time from the retry until the sink has them
#    all, and the hub's CPU over the drain per message (user and system,
#    from /proc/PID/stat). The time `queue retry` took is printed too.
#
#   bench/backlog.sh                 # 100000 messages
#   MSGS=20000 IDLE=10 bench/backlog.sh
#   PROFILE=/tmp/drain.data MSGS=20000 IDLE=5 bench/backlog.sh   # the drain under perf record -g
#   PERF=1 MSGS=20000 IDLE=5 bench/backlog.sh                    # the drain's system calls (perf stat)
#   WAYPOST_BIN=/tmp/waypost-main bench/backlog.sh               # a binary built elsewhere (A/B)
#
# Runs as any user (no Postfix instance: only smtp-source and smtp-sink
# from Debian's postfix package, installed when missing, which needs
# root). Loopback only. The queue lives in a temp folder under TMPDIR; it
# needs about MSGS x 3 KiB of disk.
cd "$(dirname "$0")/.."
BENCH_ROOT=$PWD
source bench/lib.sh

MSGS=${MSGS:-100000}
SIZE=${SIZE:-2048}
SESSIONS=${SESSIONS:-20}
SUT_PORT=${SUT_PORT:-2525}
SINK_PORT=${SINK_PORT:-2526}
API_PORT=${API_PORT:-2580}
SETTLE=${SETTLE:-10}
IDLE=${IDLE:-30}
STALL=${STALL:-120}
RETRY=${RETRY:-1h}
PROFILE=${PROFILE:-}
PERF=${PERF:-0}
PERF_CALLS=${PERF_CALLS:-"nanosleep futex write read openat close pread64 pwrite64 fsync fdatasync fcntl newfstat newfstatat setsockopt statfs renameat unlinkat epoll_ctl epoll_pwait accept4 connect sched_yield"}
[[ $RETRY =~ ^[0-9]+(s|m|h)$ ]] || fail "RETRY must be a duration such as 1h or 90s, not '$RETRY'"
for v in MSGS SIZE SESSIONS SUT_PORT SINK_PORT API_PORT SETTLE IDLE STALL; do
	[[ ${!v} =~ ^[0-9]+$ ]] || fail "$v must be a non-negative integer, not '${!v}'"
done
((MSGS > 0 && SESSIONS > 0 && IDLE > 0)) || fail "MSGS, SESSIONS and IDLE must be above 0"

need_postfix
for p in "$SUT_PORT" "$SINK_PORT" "$API_PORT"; do
	port_free "$p" || fail "something listens on $BENCH_ADDR:$p already"
done

WORK=$(mktemp -d -t waypost-backlog.XXXXXX)
SINK_PID= HUB_PID= SOURCE_PID= PERF_PID=
cleanup() {
	set +e
	[[ -n $PERF_PID ]] && stop_pid "$PERF_PID"
	[[ -n $SOURCE_PID ]] && stop_pid "$SOURCE_PID"
	stop_waypost
	[[ -n $SINK_PID ]] && stop_pid "$SINK_PID"
	if [[ ${KEEP:-0} == 1 ]]; then say "work folder kept: $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# seconds COMMAND...: runs the command, prints how long it took (s).
seconds() {
	local t0=$EPOCHREALTIME rc=0
	"$@" >"$WORK/last.out" 2>&1 || rc=$?
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
	return "$rc"
}

say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
build_waypost "$WORK"
HUB_RETRY=$RETRY start_waypost "$WORK" "$SUT_PORT" "$SINK_PORT" "$API_PORT"
queue() { "$WORK/waypost" queue --config "$HUB_CONFIG" --server hub "$@"; }

# 1. the backlog
say "queueing $MSGS msgs x $SIZE B over $SESSIONS sessions; the connector's target is down"
t0=$EPOCHREALTIME
send_load "$SUT_PORT" "$MSGS" "$WORK/source"
wait "$SOURCE_PID" || true
SOURCE_PID=
read -r src_rc src_end <"$WORK/source.done"
((src_rc == 0)) || { tail -5 "$WORK/source" >&2; fail "smtp-source failed (status $src_rc)"; }
accept=$(awk -v n="$MSGS" -v a="$t0" -v b="$src_end" 'BEGIN { printf "%.1f", n / (b - a) }')
say "accepted at $accept msg/s; settling for ${SETTLE}s"
sleep "$SETTLE"

# 2. the idle hub
read -r u0 s0 <<<"$(proc_cpu "$HUB_PID")"
sleep "$IDLE"
read -r u1 s1 <<<"$(proc_cpu "$HUB_PID")"
idle=$(awk -v hz="$CLK_TCK" -v t="$IDLE" -v u="$((u1 - u0))" -v s="$((s1 - s0))" \
	'BEGIN { printf "%.1f%% of a core (user %.1f%%, system %.1f%%)", 100 * (u + s) / hz / t, 100 * u / hz / t, 100 * s / hz / t }')

# 3. reading the queue's state
metrics=$(seconds curl -sf -o /dev/null "http://$BENCH_ADDR:$API_PORT/metrics") || fail "GET /metrics failed: $(cat "$WORK/last.out")"
list=$(seconds queue list) || fail "waypost queue list failed: $(cat "$WORK/last.out")"
cat "$WORK/last.out" >&2

# 4. the target comes back
start_sink "$SINK_PORT" "$WORK/sink.count"
if [[ -n $PROFILE ]]; then
	perf record -g -p "$HUB_PID" -o "$PROFILE" 2>"$WORK/perf.err" &
	PERF_PID=$!
	sleep 1 # attached to every thread
elif [[ $PERF == 1 ]]; then
	events=(-e raw_syscalls:sys_enter)
	for c in $PERF_CALLS; do # the system calls this kernel has tracepoints for
		[[ -e /sys/kernel/tracing/events/syscalls/sys_enter_$c || -e /sys/kernel/debug/tracing/events/syscalls/sys_enter_$c ]] &&
			events+=(-e "syscalls:sys_enter_$c")
	done
	perf stat -x , -o "$WORK/perf.txt" "${events[@]}" -p "$HUB_PID" 2>"$WORK/perf.err" &
	PERF_PID=$!
	sleep 1
fi
read -r u0 s0 <<<"$(proc_cpu "$HUB_PID")"
t0=$EPOCHREALTIME
(
	rc=0
	queue retry >"$WORK/retry.out" 2>&1 || rc=$?
	echo "$rc $EPOCHREALTIME" >"$WORK/retry.done"
) &
RETRY_PID=$!
wait_count "$WORK/sink.count" "$MSGS" "$STALL" || fail "the backlog did not drain (see $WORK/hub/hub.log; KEEP=1 keeps it)"
read -r u1 s1 <<<"$(proc_cpu "$HUB_PID")"
if [[ -n $PERF_PID ]]; then
	kill -INT "$PERF_PID" 2>/dev/null || true # perf record writes its file on SIGINT
	wait "$PERF_PID" || true
	PERF_PID=
	if [[ $PERF == 1 ]]; then
		say "system calls of the hub over the drain (perf stat), per message:"
		awk -F, -v n="$MSGS" '$3 ~ /sys_enter/ { name = $3; sub(/.*sys_enter_?/, "", name); if (name == "") name = "total"
			printf "  %-14s %8d  %6.2f/msg\n", name, $1, $1 / n }' "$WORK/perf.txt" | sort -k3 -rn >&2
	fi
fi
wait "$RETRY_PID" || true
read -r retry_rc retry_time <"$WORK/retry.done"
((retry_rc == 0)) || say "waypost queue retry failed (status $retry_rc): $(tail -2 "$WORK/retry.out")"
drain=$(awk -v n="$MSGS" -v a="$t0" -v b="$COUNT_END" 'BEGIN { printf "%.1f", n / (b - a) }')
drain_cpu=$(awk -v n="$MSGS" -v hz="$CLK_TCK" -v u="$((u1 - u0))" -v s="$((s1 - s0))" \
	'BEGIN { printf "%.0f us/msg (user %.0f, system %.0f)", (u + s) * 1e6 / hz / n, u * 1e6 / hz / n, s * 1e6 / hz / n }')
retry_s=$(awk -v a="$t0" -v b="$retry_time" 'BEGIN { printf "%.3f", b - a }')

printf 'waypost backlog: %d msgs x %d B: accept %s msg/s; idle hub %s over %ds; GET /metrics %s s; queue list %s s; queue retry %s s; drain %s msg/s, hub CPU %s\n' \
	"$MSGS" "$SIZE" "$accept" "$idle" "$IDLE" "$metrics" "$list" "$retry_s" "$drain" "$drain_cpu"
