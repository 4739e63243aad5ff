#!/usr/bin/env bash
# relay.sh -- loopback relay benchmark: Waypost against Postfix in the same run.
#
#   smtp-source --SMTP--> relay on 127.0.0.1:SUT_PORT --SMTP--> smtp-sink on 127.0.0.1:SINK_PORT
#
# The same load goes first through a Waypost hub built from this tree, then
# through a private Postfix instance (Debian's postfix package, installed
# when missing), both with durability on (each fsyncs a message before its
# 250). For each it prints:
#   accept      MSGS / time until smtp-source had every 250 and exited
#   end-to-end  MSGS / time until smtp-sink had counted every message
# then the ratios Waypost / Postfix, and the hub's CPU per relayed message:
# user and system time from /proc/PID/stat (proc(5)) over the run, in
# microseconds per message. For both it prints the machine's CPU per
# message too (every CPU's busy time from /proc/stat over the run: the
# load generator, the sink and the kernel's threads with the MTA), which
# compares Waypost's whole cost with Postfix's many processes.
#
#   bench/relay.sh                          # 10000 x 2 KiB, 20 sessions
#   MSGS=4000 SESSIONS=20 bench/relay.sh
#   ONLY=waypost bench/relay.sh             # skip the Postfix baseline
#   KEEP_CONNECTIONS=1 bench/relay.sh       # each session sends all its messages over one
#                                           # connection (smtp-source -d) instead of one each:
#                                           # the difference is the cost of a connection
#   PERF=1 MSGS=4000 ONLY=waypost bench/relay.sh     # count the hub's system calls (perf stat)
#   STRACE=1 MSGS=4000 ONLY=waypost bench/relay.sh   # the same with strace -f -c (every call
#                                                    # named, but the hub runs many times slower)
#   PROFILE=/tmp/hub.data MSGS=4000 ONLY=waypost bench/relay.sh  # the hub under perf record -g
#   WAYPOST_BIN=/tmp/waypost-main ONLY=waypost bench/relay.sh    # a binary built elsewhere (A/B)
#   HUBS=2 bench/relay.sh                   # the multi-hub variant: two hubs of one site,
#                                           # hub1 takes the load, hub2 its shadow copies;
#                                           # shadow_on_receive "off", then "best_effort",
#                                           # and the ratio (issue 19 item 5c). No Postfix.
#   PIN=1 HUBS=2 bench/relay.sh             # the same with two machines played by two cores:
#                                           # hub2 alone on CPU 1, everything else (hub1, the
#                                           # load generator, the sink) on CPU 0, in both runs
#
# Needs root for the Postfix baseline (its master runs as root). Loopback only.
cd "$(dirname "$0")/.."
BENCH_ROOT=$PWD
source bench/lib.sh

MSGS=${MSGS:-10000}
SIZE=${SIZE:-2048}
SESSIONS=${SESSIONS:-20}
SUT_PORT=${SUT_PORT:-2525}
SINK_PORT=${SINK_PORT:-2526}
ONLY=${ONLY:-}
PERF_CALLS=${PERF_CALLS:-"nanosleep futex write read openat close pread64 pwrite64 fsync fdatasync syncfs ftruncate fcntl newfstat newfstatat setsockopt statfs renameat unlinkat epoll_ctl epoll_pwait accept4 connect sched_yield"}
STRACE=${STRACE:-0}
PERF=${PERF:-0}
PROFILE=${PROFILE:-}
STALL=${STALL:-60}
HUBS=${HUBS:-1}
PIN=${PIN:-0}
RELAY1_PORT=${RELAY1_PORT:-2527}
RELAY2_PORT=${RELAY2_PORT:-2528}
for v in MSGS SIZE SESSIONS SUT_PORT SINK_PORT STALL RELAY1_PORT RELAY2_PORT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || fail "$v must be a positive integer, not '${!v}'"
done
[[ $ONLY == "" || $ONLY == waypost || $ONLY == postfix ]] || fail "ONLY is waypost or postfix, not '$ONLY'"
[[ $HUBS == 1 || $HUBS == 2 ]] || fail "HUBS is 1 or 2, not '$HUBS'"
KEEP_CONNECTIONS=${KEEP_CONNECTIONS:-0}
[[ $KEEP_CONNECTIONS == 0 || $KEEP_CONNECTIONS == 1 ]] || fail "KEEP_CONNECTIONS is 0 or 1, not '$KEEP_CONNECTIONS'"
[[ $PIN == 0 || $PIN == 1 && $HUBS == 2 ]] || fail "PIN=1 goes with HUBS=2 (and PIN is 0 or 1, not '$PIN')"
if [[ $PIN == 1 ]]; then
	(($(nproc) >= 2)) || fail "PIN=1 needs two cores"
	command -v taskset >/dev/null || fail "PIN=1 needs taskset (util-linux)"
	taskset -pc 0 $$ >/dev/null # every process started from here on runs on CPU 0
fi
if [[ $HUBS == 2 ]]; then
	ONLY=waypost
	port_free "$RELAY1_PORT" || fail "something listens on $BENCH_ADDR:$RELAY1_PORT already"
	port_free "$RELAY2_PORT" || fail "something listens on $BENCH_ADDR:$RELAY2_PORT already"
fi

need_postfix
[[ $STRACE == 0 ]] || command -v strace >/dev/null || fail "STRACE=1 needs strace (apt-get install strace)"
[[ $PERF == 0 ]] || command -v perf >/dev/null || fail "PERF=1 needs perf (apt-get install linux-perf)"
port_free "$SUT_PORT" || fail "something listens on $BENCH_ADDR:$SUT_PORT already"
port_free "$SINK_PORT" || fail "something listens on $BENCH_ADDR:$SINK_PORT already"

WORK=$(mktemp -d -t waypost-relay.XXXXXX)
SINK_PID= HUB_PID= HUB2_PID= SOURCE_PID= STRACE_PID= PF_STARTED=0
cleanup() {
	set +e
	[[ -n $SOURCE_PID ]] && stop_pid "$SOURCE_PID"
	[[ -n $STRACE_PID ]] && stop_pid "$STRACE_PID"
	stop_waypost
	stop_postfix
	[[ -n $SINK_PID ]] && stop_pid "$SINK_PID"
	if [[ ${KEEP:-0} == 1 ]]; then say "work folder kept: $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run NAME: one timed run through the relay started by start_NAME. Prints
# one summary line and sets ACC and E2E (msg/s).
run() {
	local name=$1 cpu0 cpu1 t0 src_rc src_end busy0 busy1
	start_sink "$SINK_PORT" "$WORK/$name.count"
	if [[ $name == shadow-* ]]; then
		local mode=off
		[[ $name == shadow-on ]] && mode=best_effort
		mkdir -p "$WORK/$name"
		cp "$WORK/waypost" "$WORK/$name/"
		start_waypost_pair "$WORK/$name" "$SUT_PORT" "$SINK_PORT" "$RELAY1_PORT" "$RELAY2_PORT" "$mode"
		if [[ $PIN == 1 ]]; then
			taskset -a -pc 1 "$HUB2_PID" >/dev/null # hub2's own machine
		fi
		cpu0="$(proc_cpu "$HUB_PID") $(proc_cpu "$HUB2_PID")"
	elif [[ $name == waypost ]]; then
		local wrap=
		if [[ $PERF == 1 ]]; then
			# Counted from the hub's start to its stop: the start-up and the
			# idle seconds around the run add a few hundred calls.
			wrap="perf stat -x , -o $WORK/perf.txt -e raw_syscalls:sys_enter"
			for c in $PERF_CALLS; do # the system calls this kernel has tracepoints for
				[[ -e /sys/kernel/tracing/events/syscalls/sys_enter_$c || -e /sys/kernel/debug/tracing/events/syscalls/sys_enter_$c ]] &&
					wrap+=" -e syscalls:sys_enter_$c"
			done
			wrap+=" --"
		elif [[ -n $PROFILE ]]; then
			wrap="perf record -g -o $PROFILE --"
		fi
		HUB_WRAP=$wrap start_waypost "$WORK" "$SUT_PORT" "$SINK_PORT"
		cpu0=$(proc_cpu "$HUB_PID")
		if [[ $STRACE == 1 ]]; then
			strace -f -c -o "$WORK/strace.txt" -p "$HUB_PID" 2>"$WORK/strace.err" &
			STRACE_PID=$!
			sleep 1 # attached to every thread
		fi
	else
		start_postfix "$WORK" "$SUT_PORT" "$SINK_PORT"
	fi
	say "$name: $MSGS msgs x $SIZE B over $SESSIONS sessions$( ((KEEP_CONNECTIONS)) && echo ", connections kept")"
	busy0=$(machine_busy)
	t0=$EPOCHREALTIME
	send_load "$SUT_PORT" "$MSGS" "$WORK/$name.source"
	wait_count "$WORK/$name.count" "$MSGS" "$STALL" || { tail -5 "$WORK/$name.source" >&2; fail "$name: not every message reached the sink"; }
	busy1=$(machine_busy)
	wait "$SOURCE_PID" || true
	SOURCE_PID=
	read -r src_rc src_end <"$WORK/$name.source.done"
	((src_rc == 0)) || { tail -5 "$WORK/$name.source" >&2; fail "$name: smtp-source failed (status $src_rc)"; }
	ACC=$(awk -v n="$MSGS" -v a="$t0" -v b="$src_end" 'BEGIN { printf "%.1f", n / (b - a) }')
	E2E=$(awk -v n="$MSGS" -v a="$t0" -v b="$COUNT_END" 'BEGIN { printf "%.1f", n / (b - a) }')
	# Everything the machine did over the run: the load generator, the
	# sink, the MTA's processes and the kernel's threads, the same for
	# Waypost and Postfix but for the MTA.
	local extra
	extra=$(awk -v n="$MSGS" -v hz="$CLK_TCK" -v b="$((busy1 - busy0))" 'BEGIN { printf ", machine CPU %.0f us/msg", b * 1e6 / hz / n }')
	if [[ $name == shadow-* ]]; then
		cpu1="$(proc_cpu "$HUB_PID") $(proc_cpu "$HUB2_PID")"
		read -r u0 s0 v0 w0 <<<"$cpu0"
		read -r u1 s1 v1 w1 <<<"$cpu1"
		HUB_CPU=$(awk -v n="$MSGS" -v hz="$CLK_TCK" -v a="$((u1 - u0 + s1 - s0))" -v b="$((v1 - v0 + w1 - w0))" \
			'BEGIN { printf "CPU per message: hub1 %.0f us, hub2 %.0f us", a * 1e6 / hz / n, b * 1e6 / hz / n }')
		extra+=", $HUB_CPU"
		stop_waypost
	elif [[ $name == waypost ]]; then
		cpu1=$(proc_cpu "$HUB_PID")
		read -r u0 s0 <<<"$cpu0"
		read -r u1 s1 <<<"$cpu1"
		HUB_CPU=$(awk -v n="$MSGS" -v hz="$CLK_TCK" -v u="$((u1 - u0))" -v s="$((s1 - s0))" \
			'BEGIN { printf "hub CPU %.0f us/msg (user %.0f, system %.0f)", (u + s) * 1e6 / hz / n, u * 1e6 / hz / n, s * 1e6 / hz / n }')
		extra+=", $HUB_CPU"
		if [[ $STRACE == 1 ]]; then
			stop_pid "$STRACE_PID" # strace -c writes its table when it detaches
			STRACE_PID=
			say "system calls of the hub over the run (strace -f -c), per message:"
			awk -v n="$MSGS" '$1 ~ /^[0-9.]+$/ && NF >= 5 { name = $NF; calls = $4; if (calls > 0) printf "  %-20s %8d  %6.2f/msg\n", name, calls, calls / n }' \
				"$WORK/strace.txt" | sort -k3 -rn >&2
		fi
		stop_waypost
		if [[ $PERF == 1 ]]; then
			say "system calls of the hub from its start to its stop (perf stat), per message:"
			awk -F, -v n="$MSGS" '$3 ~ /sys_enter/ { name = $3; sub(/.*sys_enter_?/, "", name); if (name == "") name = "total"
				printf "  %-14s %8d  %6.2f/msg\n", name, $1, $1 / n }' "$WORK/perf.txt" | sort -k3 -rn >&2
		fi
	else
		stop_postfix
	fi
	stop_pid "$SINK_PID"
	SINK_PID=
	printf '%s relay: %d msgs, accept %s msg/s, end-to-end %s msg/s (%d B, %d sessions%s%s)\n' \
		"$name" "$MSGS" "$ACC" "$E2E" "$SIZE" "$SESSIONS" "$( ((KEEP_CONNECTIONS)) && echo ", connections kept")" "$extra"
}

say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
build_waypost "$WORK"
if [[ $HUBS == 2 ]]; then
	run shadow-off
	OA=$ACC OE=$E2E
	run shadow-on
	awk -v oa="$OA" -v oe="$OE" -v na="$ACC" -v ne="$E2E" \
		'BEGIN { printf "shadow_on_receive best_effort / off: accept %.2fx, end-to-end %.2fx\n", na / oa, ne / oe }'
	exit 0
fi
if [[ $ONLY != postfix ]]; then
	run waypost
	WA=$ACC WE=$E2E
fi
if [[ $ONLY != waypost ]]; then
	run postfix
	PA=$ACC PE=$E2E
fi
if [[ -z $ONLY ]]; then
	awk -v wa="$WA" -v we="$WE" -v pa="$PA" -v pe="$PE" \
		'BEGIN { printf "waypost / postfix: accept %.2fx, end-to-end %.2fx\n", wa / pa, we / pe }'
fi
