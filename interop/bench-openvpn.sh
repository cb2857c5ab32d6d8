#!/usr/bin/env bash
# Benchmark (not a test): tapclient (protocol = "openvpn") next to the stock OpenVPN 2.6 client,
# one after the other, against the same stock OpenVPN 2.6 TAP server over TCP (AES-256-GCM
# negotiated, or a legacy CBC cipher with BENCH_CBC), in two network namespaces (see
# shared/interop-lab.md and lib/openvpn.sh).
#
# Per client:
#   start -> first ping   wall time from the fork of the client process to the first ICMP echo
#                         reply from the server's tunnel address 10.99.0.1. A raw-socket probe
#                         in the client namespace, started before the client, sends one echo
#                         request every BENCH_PROBE_MS (2) ms from then on (sends fail with
#                         "network unreachable" until the client has configured its interface),
#                         so the resolution is about that interval. Median of BENCH_STARTS (5) runs.
#   throughput            iperf3 -t BENCH_SECONDS (10), client -> server ("up") and -R ("down"),
#                         iperf3 server in the server namespace on 10.99.0.1; best of
#                         BENCH_REPEATS (2) runs per direction (Mbit/s received).
#   CPU s/GB              utime+stime of the client PID (/proc/PID/stat, CLK_TCK) before and after
#                         each iperf3 run, over the bytes received; summed over all runs of that
#                         direction (so it is not cherry-picked like the throughput). The
#                         server's openvpn is measured the same way.
#   peak RSS              VmHWM of the client at the end (after all traffic).
#   ping RTT              BENCH_PINGS (200) pings 10 ms apart, next to the raw underlay.
#
# usage: sudo interop/bench-openvpn.sh [stock] [tapclient]       (default: both, in that order)
# env:   BENCH_SECONDS=10 BENCH_REPEATS=2 BENCH_STARTS=5 BENCH_PINGS=200 BENCH_PROBE_MS=2
#        PROFILE=release   (cargo profile to build)   TAPCLIENT=path (use this binary, no build)
#        OPENVPN=path      KEEP_TMP=1 (keep configs and logs)
#        BENCH_CBC=CIPHER:DIGEST   a CBC-only server (`data-ciphers CIPHER`, `auth DIGEST`, the
#                          stock client configured alike, tapclient offering CIPHER with that
#                          `auth`), e.g. AES-256-CBC:SHA256
#        BENCH_PERF=1      one extra, uncounted iperf3 run per direction under `perf record -e
#                          cpu-clock -g` (client and server); reports kept in the temp dir
# Prints one table (markdown). Everything shares the machine's cores (2 on the dev machine):
# both clients, the OpenVPN server, iperf3 at both ends and the kernel. Compare within one run.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
source "$HERE/lib/deps.sh"
((EUID == 0)) || { echo "bench-openvpn: needs root: sudo $0" >&2; exit 1; }
deps_ensure
if ! command -v "${OPENVPN:-openvpn}" >/dev/null 2>&1; then
    echo "bench-openvpn: installing openvpn" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openvpn >&2
fi

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
REPEATS=${BENCH_REPEATS:-2}
STARTS=${BENCH_STARTS:-5}
PINGS=${BENCH_PINGS:-200}
PROBE_MS=${BENCH_PROBE_MS:-2}
PROFILE=${PROFILE:-release}
CLIENTS=("$@")
((${#CLIENTS[@]})) || CLIENTS=(stock tapclient)
for c in "${CLIENTS[@]}"; do
    [[ $c == stock || $c == tapclient ]] || { echo "bench-openvpn: unknown client '$c' (stock, tapclient)" >&2; exit 1; }
done

LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tapclient-bench-openvpn.XXXXXX")
: >"$LAB_TMP/pids"
source "$HERE/lib/netns.sh"
source "$HERE/lib/pki.sh"
source "$HERE/lib/openvpn.sh"
OVPN_PKI=$LAB_TMP/pki
OVPN_KEYS=$LAB_TMP/pki
CLK_TCK=$(getconf CLK_TCK)

on_exit() {
    local rc=$?
    lab_cleanup
    if ((rc == 0)) && [[ -z ${KEEP_TMP:-} ]]; then
        rm -rf "$LAB_TMP"
    else
        echo "logs: $LAB_TMP" >&2
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

die() {
    echo "bench-openvpn: $*" >&2
    exit 1
}

if [[ -z ${TAPCLIENT:-} ]]; then
    echo "building ($PROFILE)..." >&2
    (cd "$ROOT" && cargo build -q --workspace --profile "$PROFILE")
    TAPCLIENT=$ROOT/target/$PROFILE/tapclient
    BUILT_FROM="$PROFILE build of $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo "$ROOT")"
else
    BUILT_FROM="given binary $TAPCLIENT"
fi
[[ -x $TAPCLIENT ]] || die "no tapclient binary at $TAPCLIENT"
lab_make_pki "$LAB_TMP/pki" bench-password "$ROOT"

# ------------------------------------------------------------------ probes and measurements

# The first-ping probe: raw ICMP socket, one echo request every INTERVAL s; prints "ready" once
# the socket is open, then "first_reply EPOCH_SECONDS" at the first matching echo reply.
cat >"$LAB_TMP/firstping.py" <<'PY'
import os, select, socket, struct, sys, time

dst, limit, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])


def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setblocking(False)
ident = os.getpid() & 0xFFFF
payload = b"tapclient-bench-first-ping"
print("ready", flush=True)
deadline = time.time() + limit
seq, nxt, sent = 0, 0.0, 0
while time.time() < deadline:
    now = time.time()
    if now >= nxt:
        seq = (seq + 1) & 0xFFFF
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), ident, seq) + payload
        try:
            s.sendto(pkt, (dst, 0))
            sent += 1
        except OSError:
            pass  # no route or interface yet
        nxt = now + interval
    ready, _, _ = select.select([s], [], [], max(0.0, nxt - time.time()))
    if not ready:
        continue
    buf, addr = s.recvfrom(4096)
    t = time.time()
    ihl = (buf[0] & 15) * 4
    if len(buf) < ihl + 8:
        continue
    typ, _, _, rid, rseq = struct.unpack("!BBHHH", buf[ihl : ihl + 8])
    if typ == 0 and rid == ident and addr[0] == dst:
        print("first_reply %.6f seq %d of %d sent" % (t, rseq, sent), flush=True)
        sys.exit(0)
print("no reply within %.0f s (%d requests sent)" % (limit, sent), flush=True)
sys.exit(1)
PY

# cpu_ticks PID — utime+stime (fields 14, 15 of /proc/PID/stat; all threads), in clock ticks.
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat") || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}

# proc_kib PID FIELD — a "kB" field of /proc/PID/status (VmHWM, VmRSS).
proc_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# rtt NS DST → "avg min max" in ms over $PINGS pings 10 ms apart
rtt() {
    timeout $((PINGS / 50 + 30)) ip netns exec "$1" ping -q -n -c "$PINGS" -i 0.01 -W 1 "$2" |
        awk -F'[/ =]+' '/^rtt/ {printf "%.3f %.3f %.3f\n", $7, $6, $8}'
}

# iperf NS DST [-R] → "MBIT_S BYTES" (received), one run of $SECONDS_PER_RUN s.
iperf() {
    local ns=$1 dst=$2 reverse=${3:-} json
    # shellcheck disable=SC2086 # $reverse is empty or -R
    json=$(timeout $((SECONDS_PER_RUN + 30)) ip netns exec "$ns" iperf3 -c "$dst" -t "$SECONDS_PER_RUN" -J $reverse) ||
        die "iperf3 to $dst ${reverse:-(up)} failed: $(tr -d '\n' <<<"$json" | cut -c1-300)"
    "$PYTHON" -c 'import json,sys; r = json.load(sys.stdin)["end"]["sum_received"]; print("%.1f %d" % (r["bits_per_second"] / 1e6, r["bytes"]))' <<<"$json"
}

start_iperf_server() {
    lab_start "$SRV_NS" "$LAB_TMP/iperf3-$1.log" iperf3 -s -B "$1"
    IPERF_PID=$LAB_PID
    lab_wait_until 10 lab_listening "$SRV_NS" 5201 || die "iperf3 server on $1 did not start"
}

declare -A R=()   # results: R[client.metric]

# The clients. start_<client> starts it (lab_start) and sets CLIENT_PID, CLIENT_DEV, CLIENT_LOG.
# Server and stock client variants (lib/openvpn.sh) for BENCH_CBC.
VARIANTS=(verb=3)
if [[ -n ${BENCH_CBC:-} ]]; then
    VARIANTS+=("cbc=${BENCH_CBC%%:*}" "auth=${BENCH_CBC##*:}")
fi
ovpn_client_conf "$LAB_TMP" stock "${VARIANTS[@]}"
printf '[server]\nprotocol = "openvpn"\nremote = "%s:%s"\n\n[tls]\nca = "%s"\npkcs12 = "%s"\npassword_file = "%s"\n\n[tun]\nname = "tc0"\n' \
    "$SRV_UNDERLAY" "$OVPN_PORT" "$OVPN_PKI/ca.crt" "$OVPN_PKI/client.p12" "$OVPN_PKI/p12.pass" >"$LAB_TMP/tapclient.toml"
if [[ -n ${BENCH_CBC:-} ]]; then
    printf '\n[openvpn]\nciphers = ["AES-256-GCM", "%s"]\nauth = "%s"\n' "${BENCH_CBC%%:*}" "${BENCH_CBC##*:}" >>"$LAB_TMP/tapclient.toml"
fi

start_stock() {
    CLIENT_DEV=$OVPN_STOCK_TAP CLIENT_LOG=$LAB_TMP/stock.log
    lab_start "$CLI_NS" "$LAB_TMP/stock-stdout.log" "$OPENVPN" --config "$LAB_TMP/stock.conf"
    CLIENT_PID=$LAB_PID
}

start_tapclient() {
    CLIENT_DEV=tc0 CLIENT_LOG=$LAB_TMP/tapclient.log
    lab_start "$CLI_NS" "$CLIENT_LOG" "$TAPCLIENT" --config "$LAB_TMP/tapclient.toml"
    CLIENT_PID=$LAB_PID
}

# first_ping CLIENT N — start the client, measure start -> first echo reply (ms, appended to
# STARTUP_MS). The client is left running.
first_ping() {
    local client=$1 n=$2 probe t0 line
    lab_start "$CLI_NS" "$LAB_TMP/probe-$client-$n.log" "$PYTHON" "$LAB_TMP/firstping.py" "$OVPN_SRV_IP" 30 \
        "$(awk -v ms="$PROBE_MS" 'BEGIN {print ms / 1000}')"
    probe=$LAB_PID
    lab_wait_until 10 lab_log_has "$LAB_TMP/probe-$client-$n.log" ready || die "first-ping probe did not start"
    t0=$EPOCHREALTIME
    "start_$client"
    lab_wait_exit "$probe" 40 || die "first-ping probe still running after 40 s"
    line=$(grep '^first_reply' "$LAB_TMP/probe-$client-$n.log") ||
        die "$client: $(tail -n 1 "$LAB_TMP/probe-$client-$n.log"); client $(lab_alive "$CLIENT_PID" && echo running || echo exited): $(tail -n 3 "$CLIENT_LOG" | tr '\n' ' ')"
    [[ $(cat "/proc/$CLIENT_PID/comm") == "$(basename "${CLIENT_CMD[$client]}" | cut -c1-15)" ]] ||
        die "PID $CLIENT_PID is $(cat "/proc/$CLIENT_PID/comm"), not the client (CPU accounting needs the client itself)"
    STARTUP_MS+=("$(awk -v a="$t0" -v b="$(awk '{print $2}' <<<"$line")" 'BEGIN {printf "%.0f", (b - a) * 1000}')")
}

# server_saw_close FROM_LINE — the server logged the end of a client connection after FROM_LINE.
server_saw_close() {
    tail -n "+$1" "$OVPN_SERVER_LOG" | grep -qE 'Connection reset|client-instance exiting|SIGTERM\[soft'
}

declare -A CLIENT_CMD=([stock]=$OPENVPN [tapclient]=$TAPCLIENT)

# profile_run CLIENT DIR — BENCH_PERF=1: one extra iperf3 run (not counted) with `perf record -e
# cpu-clock -g` on the client (and the server's openvpn); reports in $LAB_TMP/perf-CLIENT-DIR-*.txt.
profile_run() {
    local c=$1 dir=$2 who pid rec=() m b
    for who in client server; do
        if [[ $who == client ]]; then pid=$CLIENT_PID; else pid=$OVPN_SERVER_PID; fi
        lab_start - "$LAB_TMP/perf-$c-$dir-$who.log" perf record -e cpu-clock -g -p "$pid" \
            -o "$LAB_TMP/perf-$c-$dir-$who.data" -- sleep "$SECONDS_PER_RUN"
        rec+=("$LAB_PID")
    done
    read -r m b < <(iperf "$CLI_NS" "$OVPN_SRV_IP" "$([[ $dir == down ]] && echo -R)") || true
    for pid in "${rec[@]}"; do lab_wait_exit "$pid" 30 || lab_stop "$pid" 5 || true; done
    for who in client server; do
        perf report -i "$LAB_TMP/perf-$c-$dir-$who.data" --stdio --no-children --percent-limit 1.5 -g none \
            --sort dso,symbol >"$LAB_TMP/perf-$c-$dir-$who.txt" 2>/dev/null || true
    done
    lab_note "$c $dir profiled run: ${m:-?} Mbit/s; perf reports in $LAB_TMP/perf-$c-$dir-{client,server}.txt"
    KEEP_TMP=1
}

# bench_client CLIENT — every measurement for one client; results in R[CLIENT.*].
bench_client() {
    local c=$1 i dir from t_cli t_srv bytes best
    STARTUP_MS=()
    for ((i = 1; i <= STARTS; i++)); do
        ip -n "$SRV_NS" neigh flush dev "$OVPN_SRV_TAP" 2>/dev/null || true
        from=$(($(wc -l <"$OVPN_SERVER_LOG") + 1))
        first_ping "$c" "$i"
        lab_note "$c start $i: first ping after ${STARTUP_MS[-1]} ms"
        if ((i < STARTS)); then
            lab_stop "$CLIENT_PID" 10 || die "$c needed SIGKILL"
            lab_wait_until 10 eval "! lab_link_exists '$CLI_NS' '$CLIENT_DEV'" || die "$c left $CLIENT_DEV behind"
            # let the server drop the old session before the next one connects
            lab_wait_until 5 server_saw_close "$from" || true
            sleep 0.5
        fi
    done
    R[$c.start]=$(printf '%s\n' "${STARTUP_MS[@]}" | sort -n | awk '{v[NR] = $1} END {printf "%d (%d-%d)", v[int((NR + 1) / 2)], v[1], v[NR]}')
    R[$c.start_median]=$(printf '%s\n' "${STARTUP_MS[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    R[$c.mtu]=$(ip -n "$CLI_NS" -o link show dev "$CLIENT_DEV" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')

    read -r "R[$c.rtt_avg]" "R[$c.rtt_min]" "R[$c.rtt_max]" < <(rtt "$CLI_NS" "$OVPN_SRV_IP")
    [[ -n ${R[$c.rtt_avg]} ]] || die "$c: ping through the tunnel failed"

    for dir in up down; do
        best=0 t_cli=0 t_srv=0 bytes=0
        for ((i = 1; i <= REPEATS; i++)); do
            local c0 c1 s0 s1 m b
            c0=$(cpu_ticks "$CLIENT_PID") s0=$(cpu_ticks "$OVPN_SERVER_PID")
            m='' b=''
            read -r m b < <(iperf "$CLI_NS" "$OVPN_SRV_IP" "$([[ $dir == down ]] && echo -R)") || true
            [[ -n $m && -n $b ]] || die "$c: iperf3 $dir run $i failed (client $(lab_alive "$CLIENT_PID" && echo running || echo exited))"
            c1=$(cpu_ticks "$CLIENT_PID") s1=$(cpu_ticks "$OVPN_SERVER_PID")
            lab_note "$c $dir run $i: $m Mbit/s, client $((c1 - c0)) ticks, server $((s1 - s0)) ticks, $b bytes"
            t_cli=$((t_cli + c1 - c0)) t_srv=$((t_srv + s1 - s0)) bytes=$((bytes + b))
            best=$(awk -v a="$best" -v b="$m" 'BEGIN {print (b > a) ? b : a}')
        done
        R[$c.$dir]=$(printf '%.0f' "$best")
        R[$c.cpu_$dir]=$(awk -v t="$t_cli" -v hz="$CLK_TCK" -v b="$bytes" 'BEGIN {printf "%.2f", t / hz / (b / 1e9)}')
        R[$c.srv_$dir]=$(awk -v t="$t_srv" -v hz="$CLK_TCK" -v b="$bytes" 'BEGIN {printf "%.2f", t / hz / (b / 1e9)}')
        R[$c.load_$dir]=$(awk -v t="$t_cli" -v hz="$CLK_TCK" -v s="$((SECONDS_PER_RUN * REPEATS))" 'BEGIN {printf "%.0f", 100 * t / hz / s}')
        R[$c.srv_load_$dir]=$(awk -v t="$t_srv" -v hz="$CLK_TCK" -v s="$((SECONDS_PER_RUN * REPEATS))" 'BEGIN {printf "%.0f", 100 * t / hz / s}')
        R[$c.ticks]=$((${R[$c.ticks]:-0} + t_cli)) R[$c.bytes]=$((${R[$c.bytes]:-0} + bytes))
    done
    if [[ -n ${BENCH_PERF:-} ]]; then
        for dir in up down; do
            profile_run "$c" "$dir"
        done
    fi
    R[$c.cpu_all]=$(awk -v t="${R[$c.ticks]}" -v hz="$CLK_TCK" -v b="${R[$c.bytes]}" 'BEGIN {printf "%.2f", t / hz / (b / 1e9)}')
    R[$c.hwm]=$(awk -v k="$(proc_kib "$CLIENT_PID" VmHWM)" 'BEGIN {printf "%.1f", k / 1024}')
    R[$c.rss]=$(awk -v k="$(proc_kib "$CLIENT_PID" VmRSS)" 'BEGIN {printf "%.1f", k / 1024}')

    # "Data Channel: cipher 'X'" (verb 3, read at the end: the log may lag; verb 4 adds "Incoming Data Channel: Cipher 'X'")
    R[$c.cipher]=$(tail -n "+$from" "$OVPN_SERVER_LOG" | grep -oiE "Data Channel: cipher '[^']+'" | sed -E "s/.*'([^']+)'/\1/" | sort -u | tr '\n' ' ' | sed 's/ $//' || true)
    lab_stop "$CLIENT_PID" 10 || die "$c needed SIGKILL"
    lab_wait_until 10 eval "! lab_link_exists '$CLI_NS' '$CLIENT_DEV'" || die "$c left $CLIENT_DEV behind"
    lab_wait_until 5 server_saw_close "$from" || true
}

# ------------------------------------------------------------------ run

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
lab_netns_up
start_iperf_server "$SRV_UNDERLAY"
read -r "R[underlay.rtt_avg]" "R[underlay.rtt_min]" "R[underlay.rtt_max]" < <(rtt "$CLI_NS" "$SRV_UNDERLAY")
read -r "R[underlay.up]" _ < <(iperf "$CLI_NS" "$SRV_UNDERLAY")
read -r "R[underlay.down]" _ < <(iperf "$CLI_NS" "$SRV_UNDERLAY" -R)
lab_stop "$IPERF_PID" 5 || true

ovpn_start_server "$LAB_TMP" openvpn-server "${VARIANTS[@]}" || die "the OpenVPN server did not start"
start_iperf_server "$OVPN_SRV_IP"
for c in "${CLIENTS[@]}"; do
    echo "benchmarking $c..." >&2
    bench_client "$c"
done

# ------------------------------------------------------------------ table

# better LOWER_IS_BETTER(yes|no|-) A B — which client wins (A = stock, B = tapclient); "even" when they are
# within 5 % of each other (runs on this machine move by more than that).
better() {
    awk -v low="$1" -v a="$2" -v b="$3" 'BEGIN {
        if (low == "-" || a == "" || b == "") { print ""; exit }
        d = a - b; if (d < 0) d = -d
        m = (a + 0 > b + 0) ? a + 0 : b + 0
        if (m == 0 || d / m < 0.05) { print "even"; exit }
        w = (low == "yes") ? (b + 0 < a + 0) : (b + 0 > a + 0)
        print w ? "tapclient" : "stock"
    }'
}
col() { printf '%s' "${R[$1.$2]:--}"; }
row() {
    local label=$1 key=$2 low=$3 under=${4:--}
    printf '| %-44s | %10s | %16s | %16s | %-9s |\n' "$label" "$under" "$(col stock "$key")" "$(col tapclient "$key")" \
        "$(better "$low" "${R[stock.$key]:-}" "${R[tapclient.$key]:-}")"
}

echo
echo "OpenVPN 2.6 TAP server over TCP ($("$OPENVPN" --version | head -n 1 | awk '{print $2}')), $(nproc) cores shared by everything (server, both iperf3 ends, the client), $(date -u +%F)"
echo "tapclient: $BUILT_FROM; load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-44s | %10s | %16s | %16s | %-9s |\n' metric underlay "stock openvpn" tapclient better
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..11})"
printf '| %-44s | %10s | %16s | %16s | %-9s |\n' "start to first ping, ms: median (min-max) of $STARTS" - "$(col stock start)" "$(col tapclient start)" \
    "$(better yes "${R[stock.start_median]:-}" "${R[tapclient.start_median]:-}")"
row "up (client -> server), Mbit/s, best of $REPEATS" up no "${R[underlay.up]%.*}"
row "down (server -> client), Mbit/s, best of $REPEATS" down no "${R[underlay.down]%.*}"
row "client CPU s/GB, up" cpu_up yes
row "client CPU s/GB, down" cpu_down yes
row "client CPU s/GB, all iperf3 runs" cpu_all yes
row "client CPU, % of one core, up" load_up yes
row "client CPU, % of one core, down" load_down yes
row "server (openvpn) CPU s/GB, up" srv_up yes
row "server (openvpn) CPU s/GB, down" srv_down yes
row "server (openvpn) CPU, % of one core, up" srv_load_up -
row "server (openvpn) CPU, % of one core, down" srv_load_down -
row "peak RSS (VmHWM), MiB" hwm yes
row "ping RTT avg, ms ($PINGS pings, 10 ms apart)" rtt_avg yes "${R[underlay.rtt_avg]}"
row "ping RTT min, ms" rtt_min yes "${R[underlay.rtt_min]}"
row "ping RTT max, ms" rtt_max yes "${R[underlay.rtt_max]}"
printf '| %-44s | %10s | %16s | %16s | %-9s |\n' "data cipher / tunnel MTU" - "$(col stock cipher) / $(col stock mtu)" "$(col tapclient cipher) / $(col tapclient mtu)" ""
echo
echo "first ping: raw ICMP probe every $PROBE_MS ms from before the fork (includes ip netns exec); throughput: iperf3 -t $SECONDS_PER_RUN, best of $REPEATS; CPU s/GB: utime+stime of the client PID over all runs of a direction / GB (1e9 bytes) received; % of one core: same CPU time / wall time of those runs (a single-threaded process near 100 % is the bottleneck); better: 'even' within 5 %."
