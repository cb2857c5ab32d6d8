#!/usr/bin/env bash
# Benchmark (not a test): ping RTT and iperf3 throughput through tapclient's tunnel, compared
# with the raw underlay path between the same two namespaces, for each server variant:
#   plain      tapserver (TCP_NODELAY, one write per record)
#   faithful   tapserver --faithful (simpletun's quirks: no TCP_NODELAY, two writes per record)
#   tls        tapserver behind stunnel, client certificate (modern .p12)
#
# usage: sudo interop/bench.sh [VARIANT...]        (default: plain faithful tls)
# env:   BENCH_SECONDS=5 (iperf3 duration per direction), BENCH_PINGS=200, PROFILE=release
# Prints one table; numbers depend on the machine (2 cores here), compare within one run.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/deps.sh
source "$HERE/lib/deps.sh"
((EUID == 0)) || { echo "bench: needs root: sudo $0" >&2; exit 1; }
deps_ensure

SECONDS_PER_RUN=${BENCH_SECONDS:-5}
PINGS=${BENCH_PINGS:-200}
PROFILE=${PROFILE:-release}
VARIANTS=("$@")
((${#VARIANTS[@]})) || VARIANTS=(plain faithful tls)

LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tapclient-bench.XXXXXX")
: >"$LAB_TMP/pids"
# shellcheck source=lib/netns.sh
source "$HERE/lib/netns.sh"
# shellcheck source=lib/pki.sh
source "$HERE/lib/pki.sh"
trap 'lab_cleanup; rm -rf "$LAB_TMP"' EXIT

echo "building ($PROFILE)..." >&2
(cd "$ROOT" && cargo build -q --workspace --profile "$PROFILE")
TAPCLIENT=$ROOT/target/$PROFILE/tapclient
TAPSERVER=$ROOT/target/$PROFILE/tapserver
lab_make_pki "$LAB_TMP/pki" bench-password "$ROOT"

# rtt NS DST → "avg min max" in ms over $PINGS pings 10 ms apart
rtt() {
    ip netns exec "$1" ping -q -c "$PINGS" -i 0.01 -W 1 "$2" |
        awk -F'[/ =]+' '/^rtt/ {printf "%.3f %.3f %.3f\n", $7, $6, $8}'
}

# tput NS_CLIENT DST [-R] → Mbit/s received (iperf3 server runs in the other namespace)
tput() {
    local ns=$1 dst=$2 reverse=${3:-}
    ip netns exec "$ns" iperf3 -c "$dst" -t "$SECONDS_PER_RUN" -J $reverse 2>/dev/null |
        "$PYTHON" -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
}

start_iperf_server() {
    lab_start "$SRV_NS" "$LAB_TMP/iperf3-$1.log" iperf3 -s -B "$1"
    IPERF_PID=$LAB_PID
    lab_wait_until 10 lab_listening "$SRV_NS" 5201
}

row() { printf '%-10s %-9s %9s %9s %9s %12s %12s\n' "$@"; }

lab_netns_up
row variant path rtt_avg rtt_min rtt_max "up Mbit/s" "down Mbit/s"
row ------- ---- ------- ------- ------- ---------- ------------

start_iperf_server "$SRV_UNDERLAY"
read -r a mn mx < <(rtt "$CLI_NS" "$SRV_UNDERLAY")
row underlay raw-tcp "$a" "$mn" "$mx" "$(tput "$CLI_NS" "$SRV_UNDERLAY")" "$(tput "$CLI_NS" "$SRV_UNDERLAY" -R)"
lab_stop "$IPERF_PID" 5

for v in "${VARIANTS[@]}"; do
    case $v in
        plain) lab_start_tapserver "$LAB_TMP/tapserver.log"; remote="$SRV_UNDERLAY:$PLAIN_PORT"; tls="" ;;
        faithful) lab_start_tapserver "$LAB_TMP/tapserver.log" --faithful; remote="$SRV_UNDERLAY:$PLAIN_PORT"; tls="" ;;
        tls)
            lab_start_tapserver "$LAB_TMP/tapserver.log" --listen "127.0.0.1:$PLAIN_PORT"
            lab_start_stunnel "$LAB_TMP" "$LAB_TMP/pki"
            remote="$SRV_UNDERLAY:$TLS_PORT"
            tls=$(printf '[tls]\nca = "pki/ca.crt"\npkcs12 = "pki/client.p12"\npassword_file = "pki/p12.pass"\n')
            ;;
        *) echo "bench: unknown variant $v" >&2; exit 1 ;;
    esac
    printf '[server]\nprotocol = "simpletun"\nremote = "%s"\n%s\n[tun]\nname = "tc0"\n[ip]\naddress = "%s/24"\ngateway = "%s"\n' \
        "$remote" "$tls" "$CLI_TUN_IP" "$SRV_TAP_IP" >"$LAB_TMP/bench.toml"
    lab_start "$CLI_NS" "$LAB_TMP/tapclient-$v.log" "$TAPCLIENT" --config "$LAB_TMP/bench.toml" -q
    client=$LAB_PID
    lab_wait_ping "$CLI_NS" "$SRV_TAP_IP" 15 "$client" || { echo "bench: $v tunnel did not come up" >&2; exit 1; }
    start_iperf_server "$SRV_TAP_IP"
    read -r a mn mx < <(rtt "$CLI_NS" "$SRV_TAP_IP")
    row "$v" tunnel "$a" "$mn" "$mx" "$(tput "$CLI_NS" "$SRV_TAP_IP")" "$(tput "$CLI_NS" "$SRV_TAP_IP" -R)"
    lab_stop "$IPERF_PID" 5
    lab_stop "$client" 10
    [[ -n ${STUNNEL_PID:-} ]] && lab_stop "$STUNNEL_PID" 5 && STUNNEL_PID=
    lab_stop "$TAPSERVER_PID" 5
    ip -n "$SRV_NS" link del "$TAP_IF" 2>/dev/null || true
done
echo "(rtt in ms over $PINGS pings; throughput over ${SECONDS_PER_RUN} s per direction; up = client -> server)"
