#!/usr/bin/env bash
# tapclient against the simpletun-compatible tapserver in two network namespaces (ring 3 of
# the test plan): plain, faithful simpletun quirks, TLS through stunnel (modern and legacy
# PKCS#12), server restart, and the failure modes with their exit codes.
#
# usage: sudo interop/run-netns-tests.sh [SCENARIO...]     (default: all, in this order)
#   plain faithful tls tls-legacy restart wrong-password wrong-ca foreign-client-cert unreachable
# env:   TAPCLIENT, TAPSERVER   use these binaries instead of building target/debug/...
#        PKI_DIR, PKI_PASSWORD  use a ready PKI (same file names as tapclient-certs writes)
#        XFER_MB=50             size of each checksummed transfer
#        KEEP_TMP=1             keep the temp dir (logs, configs) even when everything passed
# Prints PASS/FAIL per scenario with a reason, the tails of its logs on failure, and a last line
# "netns: N passed, M failed"; exits non-zero if anything failed. Needs root: without it, or
# without a tool, every scenario FAILS (never skips).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tapclient-netns.XXXXXX")
: >"$LAB_TMP/pids"
source "$HERE/lib/netns.sh"
source "$HERE/lib/harness.sh"
source "$HERE/lib/pki.sh"

ALL=(plain faithful tls tls-legacy restart wrong-password wrong-ca foreign-client-cert unreachable)
PW=${PKI_PASSWORD:-interop-pw}
PKI=$LAB_TMP/pki
XFER_MB=${XFER_MB:-50}
PAYLOAD=$LAB_TMP/payload.bin
CLIENT_TUN=tc0
CLIENT_BUILD_ERR=''
PKI_ERR=''

on_exit() {
    local rc=$?
    lab_cleanup
    if ((rc == 0)) && [[ -z ${KEEP_TMP:-} ]]; then
        rm -rf "$LAB_TMP"
    else
        echo "logs: $LAB_TMP"
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers (scenario context)

need_client() {
    [[ -z $CLIENT_BUILD_ERR ]] || scen_fail "$CLIENT_BUILD_ERR"
}

need_pki() {
    [[ -z $PKI_ERR ]] || scen_fail "no test PKI: $PKI_ERR"
}

# write_config FILE REMOTE [CA PKCS12 PASSWORD_FILE]
write_config() {
    local file=$1 remote=$2
    {
        printf '[server]\nprotocol = "simpletun"\nremote = "%s"\nconnect_timeout = 5\n\n' "$remote"
        if (($# > 2)); then
            printf '[tls]\nca = "%s"\npkcs12 = "%s"\npassword_file = "%s"\n\n' "$3" "$4" "$5"
        fi
        printf '[tun]\nname = "%s"\nmtu = 1500\n\n' "$CLIENT_TUN"
        printf '[ip]\naddress = "%s/24"\ngateway = "%s"\nroutes = []\n\n' "$CLI_TUN_IP" "$SRV_TAP_IP"
        printf '[reconnect]\ninitial_delay = 1\nmax_delay = 4\nfirst_connect_attempts = 2\n'
    } >"$file"
}

# start_client CONFIG — tapclient in the client namespace; sets CLIENT_PID.
start_client() {
    lab_start "$CLI_NS" "$SCEN_DIR/tapclient.log" "$TAPCLIENT" --config "$1" -v
    CLIENT_PID=$LAB_PID
}

# wait_tunnel — first answered ping client -> server within 15 s; sets UP_MS.
wait_tunnel() {
    if ! lab_wait_ping "$CLI_NS" "$SRV_TAP_IP" 15 "$CLIENT_PID"; then
        if ! lab_alive "$CLIENT_PID"; then
            lab_wait_exit "$CLIENT_PID" 1 || true
            scen_fail "tapclient exited with code $LAB_RC before the tunnel came up"
        fi
        scen_fail "no ping reply from $SRV_TAP_IP through the tunnel within 15 s"
    fi
    UP_MS=$LAB_MS
}

client_tun_exists() { lab_link_exists "$CLI_NS" "$CLIENT_TUN"; }

# stop_client — SIGTERM must give exit 0 within 10 s with tc0 gone.
stop_client() {
    lab_stop "$CLIENT_PID" 10 || scen_fail "tapclient did not exit within 10 s of SIGTERM"
    [[ $LAB_RC == 0 ]] || scen_fail "tapclient exited with code $LAB_RC on SIGTERM (expected 0)"
    ! client_tun_exists || scen_fail "$CLIENT_TUN still exists in the client namespace after tapclient exited"
}

# pings_both_ways N — N pings each way, all answered; sets PING_NOTE.
pings_both_ways() {
    local out
    out=$(lab_ping_n "$CLI_NS" "$SRV_TAP_IP" "$1") ||
        scen_fail "ping client->server ($SRV_TAP_IP): $out"
    lab_alive "$CLIENT_PID" || scen_fail "tapclient died during ping"
    # The server may have learned our MAC from our own ARP request: make it forget, so this
    # ping can only work if tapclient answers the server's ARP request.
    ip -n "$SRV_NS" neigh del "$CLI_TUN_IP" dev "$TAP_IF" 2>/dev/null || true
    out=$(lab_ping_n "$SRV_NS" "$CLI_TUN_IP" "$1") ||
        scen_fail "ping server->client ($CLI_TUN_IP, needs tapclient to answer ARP): $out"
    PING_NOTE="ping $1+$1 ok"
}

# check_neighbour — the server's ARP entry for the client: unicast lladdr, usable state; and,
# if tapclient logged "mac=..", the same MAC. Sets NEIGH_NOTE.
check_neighbour() {
    local line lladdr state first logmac
    line=$(ip -n "$SRV_NS" neigh show dev "$TAP_IF" to "$CLI_TUN_IP")
    [[ -n $line ]] || scen_fail "no neighbour entry for $CLI_TUN_IP on the server's $TAP_IF"
    lladdr=$(awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}' <<<"$line")
    state=$(awk '{print $NF}' <<<"$line")
    [[ $lladdr =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || scen_fail "server neighbour entry without a MAC: $line"
    first=$((16#${lladdr:0:2}))
    if ((first & 1)) || [[ $lladdr == 00:00:00:00:00:00 ]]; then
        scen_fail "server learned a non-unicast MAC for the client: $line"
    fi
    [[ $state =~ ^(REACHABLE|STALE|DELAY|PROBE)$ ]] || scen_fail "server neighbour entry in state $state: $line"
    logmac=$(grep -oiE 'mac[= ]"?([0-9a-f]{2}:){5}[0-9a-f]{2}' "$SCEN_DIR/tapclient.log" | head -n 1 |
        grep -oiE '([0-9a-f]{2}:){5}[0-9a-f]{2}' | tr 'A-F' 'a-f' || true)
    if [[ -n $logmac && $logmac != "$lladdr" ]]; then
        scen_fail "server learned $lladdr for $CLI_TUN_IP but tapclient logged mac=$logmac"
    fi
    NEIGH_NOTE="server ARP: $CLI_TUN_IP lladdr $lladdr $state${logmac:+ (matches the MAC tapclient logged)}"
}

json_field() { sed -n "s/.*\"$1\": \"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2" | head -n 1; }

# xfer DIRECTION PORT — XFER_MB through the tunnel, s2c (server sends) or c2s; the listener runs
# in the server namespace on 10.98.0.1. Checks the SHA-256 of what arrived. Appends to XFER_NOTE.
xfer() {
    local dir=$1 port=$2 lpid out listen_out recv_json
    if [[ $dir == s2c ]]; then
        lab_start "$SRV_NS" "$SCEN_DIR/xfer-$dir-server.log" "$PYTHON" "$LAB_LIB_DIR/xfer.py" listen \
            --bind "$SRV_TAP_IP" --port "$port" --send "$PAYLOAD"
    else
        lab_start "$SRV_NS" "$SCEN_DIR/xfer-$dir-server.log" "$PYTHON" "$LAB_LIB_DIR/xfer.py" listen \
            --bind "$SRV_TAP_IP" --port "$port" --recv
    fi
    lpid=$LAB_PID
    lab_wait_until 10 lab_log_has "$SCEN_DIR/xfer-$dir-server.log" listening ||
        scen_fail "$dir transfer: listener did not start"
    local role=--recv
    if [[ $dir == c2s ]]; then role="--send $PAYLOAD"; fi
    # shellcheck disable=SC2086 # $role is two words on purpose
    out=$(timeout 300 ip netns exec "$CLI_NS" "$PYTHON" "$LAB_LIB_DIR/xfer.py" connect \
        --host "$SRV_TAP_IP" --port "$port" $role 2>"$SCEN_DIR/xfer-$dir-client.log") ||
        scen_fail "$dir transfer failed: $(tail -n 2 "$SCEN_DIR/xfer-$dir-client.log" | tr '\n' ' ')"
    lab_wait_exit "$lpid" 60 || scen_fail "$dir transfer: listener still running 60 s after the client finished"
    [[ $LAB_RC == 0 ]] || scen_fail "$dir transfer: listener failed: $(tail -n 2 "$SCEN_DIR/xfer-$dir-server.log" | tr '\n' ' ')"
    listen_out=$(grep '"sha256"' "$SCEN_DIR/xfer-$dir-server.log" || true)
    if [[ $dir == s2c ]]; then recv_json=$out; else recv_json=$listen_out; fi
    local got_bytes got_sha
    got_bytes=$(json_field bytes "$recv_json")
    got_sha=$(json_field sha256 "$recv_json")
    [[ $got_bytes == "$PAYLOAD_BYTES" && $got_sha == "$PAYLOAD_SHA" ]] ||
        scen_fail "$dir transfer corrupted: received $got_bytes bytes sha256 $got_sha, sent $PAYLOAD_BYTES bytes sha256 $PAYLOAD_SHA"
    XFER_NOTE+="${XFER_NOTE:+, }$dir ${XFER_MB} MiB sha256 ok $(json_field mbit_s "$recv_json") Mbit/s"
}

# expect_exit CODE TIMEOUT_S PATTERN WHAT — tapclient must exit with CODE within TIMEOUT_S,
# its log must match PATTERN (grep -iE), and tc0 must be gone. Sets EXIT_NOTE.
expect_exit() {
    local code=$1 timeout=$2 pattern=$3 what=$4 t0 msg
    t0=$(lab_now_ms)
    lab_wait_exit "$CLIENT_PID" "$timeout" || scen_fail "$what: tapclient still running after $timeout s (expected exit $code)"
    local dt=$(($(lab_now_ms) - t0))
    [[ $LAB_RC == "$code" ]] ||
        scen_fail "$what: tapclient exited with $LAB_RC (expected $code): $(tail -n 1 "$SCEN_DIR/tapclient.log")"
    msg=$(grep -iE -- "$pattern" "$SCEN_DIR/tapclient.log" | tail -n 1 | cut -c1-220 || true)
    [[ -n $msg ]] || scen_fail "$what: exit $code but no message matching /$pattern/ in the log"
    ! client_tun_exists || scen_fail "$what: $CLIENT_TUN left behind in the client namespace"
    EXIT_NOTE="exit $code after ${dt} ms, no $CLIENT_TUN left; \"$msg\""
}

tls_servers() {
    lab_start_tapserver "$SCEN_DIR/tapserver.log" --listen "127.0.0.1:$PLAIN_PORT" || scen_fail "tapserver did not start"
    lab_start_stunnel "$SCEN_DIR" "$PKI" || scen_fail "stunnel did not start"
}

# ------------------------------------------------------------------ scenarios

scenario_plain() {
    need_client
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    local out
    out=$(lab_probe --connect "$SRV_UNDERLAY:$PLAIN_PORT" 2>&1) || scen_fail "server side broken (probe): $out"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    start_client "$SCEN_DIR/client.toml"
    wait_tunnel
    pings_both_ways 5
    check_neighbour
    xfer s2c 5001
    xfer c2s 5002
    stop_client
    scen_pass "up in ${UP_MS} ms; $PING_NOTE; $NEIGH_NOTE; $XFER_NOTE; SIGTERM -> exit 0, $CLIENT_TUN removed"
}

scenario_faithful() {
    need_client
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" --faithful || scen_fail "tapserver did not start"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    start_client "$SCEN_DIR/client.toml"
    wait_tunnel
    pings_both_ways 5
    stop_client
    scen_pass "simpletun quirks (no TCP_NODELAY, length and frame in two writes): up in ${UP_MS} ms; $PING_NOTE"
}

scenario_tls() {
    need_client
    need_pki
    lab_netns_up
    tls_servers
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/client.p12" "$PKI/p12.pass"
    start_client "$SCEN_DIR/client.toml"
    wait_tunnel
    pings_both_ways 5
    xfer s2c 5001
    xfer c2s 5002
    stop_client
    scen_pass "stunnel verify=2, modern client.p12: up in ${UP_MS} ms; $PING_NOTE; $XFER_NOTE"
}

scenario_tls_legacy() {
    need_client
    need_pki
    lab_netns_up
    tls_servers
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/client-legacy.p12" "$PKI/p12.pass"
    start_client "$SCEN_DIR/client.toml"
    wait_tunnel
    pings_both_ways 5
    stop_client
    scen_pass "legacy .p12 (openssl -legacy: RC2-40/3DES/SHA-1 MAC): up in ${UP_MS} ms; $PING_NOTE"
}

scenario_restart() {
    need_client
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    start_client "$SCEN_DIR/client.toml"
    wait_tunnel
    pings_both_ways 2
    local old_mac new_mac t_kill t_up down_ms
    old_mac=$(lab_mac_of "$SRV_NS" "$TAP_IF")
    t_kill=$(lab_now_ms)
    kill -KILL "$TAPSERVER_PID"
    lab_wait_exit "$TAPSERVER_PID" 5 || scen_fail "tapserver survived SIGKILL"
    if lab_link_exists "$SRV_NS" "$TAP_IF"; then
        ip -n "$SRV_NS" link del "$TAP_IF"
    fi
    lab_start_tapserver "$SCEN_DIR/tapserver-2.log" || scen_fail "restarted tapserver did not start"
    down_ms=$(($(lab_now_ms) - t_kill))
    new_mac=$(lab_mac_of "$SRV_NS" "$TAP_IF")
    [[ $new_mac != "$old_mac" ]] || scen_fail "the recreated $TAP_IF has the same MAC $old_mac; the test needs a new one"
    lab_wait_ping "$CLI_NS" "$SRV_TAP_IP" 15 "$CLIENT_PID" ||
        scen_fail "ping did not resume within 15 s after the restart (tapclient $(lab_alive "$CLIENT_PID" && echo running || echo exited))"
    t_up=$(lab_now_ms)
    grep -q 'connected' "$SCEN_DIR/tapserver-2.log" || scen_fail "no client connection in the restarted server's log"
    pings_both_ways 3
    stop_client
    scen_pass "outage $((t_up - t_kill)) ms (server down ${down_ms} ms); server MAC $old_mac -> $new_mac; $PING_NOTE"
}

scenario_wrong_password() {
    need_client
    need_pki
    lab_netns_up
    tls_servers
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/client.p12" "$PKI/wrong.pass"
    start_client "$SCEN_DIR/client.toml"
    expect_exit 3 10 'wrong password' "wrong password"
    scen_pass "$EXIT_NOTE"
}

scenario_wrong_ca() {
    need_client
    need_pki
    lab_netns_up
    tls_servers
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/other-ca.crt" "$PKI/client.p12" "$PKI/p12.pass"
    start_client "$SCEN_DIR/client.toml"
    expect_exit 4 20 'certificate' "wrong CA"
    scen_pass "$EXIT_NOTE"
}

scenario_foreign_client_cert() {
    need_client
    need_pki
    lab_netns_up
    tls_servers
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/other-client.p12" "$PKI/p12.pass"
    start_client "$SCEN_DIR/client.toml"
    expect_exit 4 20 'certificate|reject|alert' "client cert from another CA"
    local why
    why=$(grep -iE 'certificate verify failed|unknown ca|rejected|CERT: ' "$SCEN_DIR/stunnel.log" | tail -n 1 | cut -c1-160 || true)
    ! grep -q 'connected' "$SCEN_DIR/tapserver.log" || scen_fail "a connection reached tapserver through stunnel"
    scen_pass "$EXIT_NOTE; stunnel: ${why:-?}"
}

scenario_unreachable() {
    need_client
    lab_netns_up
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    start_client "$SCEN_DIR/client.toml"
    expect_exit 6 30 'unreachable|refused|connect' "nothing listening"
    scen_pass "$EXIT_NOTE"
}

# ------------------------------------------------------------------ main

SELECTED=("$@")
((${#SELECTED[@]})) || SELECTED=("${ALL[@]}")
for s in "${SELECTED[@]}"; do
    if [[ " ${ALL[*]} " != *" $s "* ]]; then
        echo "unknown scenario $s (known: ${ALL[*]})" >&2
        exit 2
    fi
done

TOOLS=(ip ping ss stunnel openssl "$PYTHON" timeout sha256sum head)
if [[ -z ${TAPSERVER:-} || -z ${TAPCLIENT:-} || -z ${PKI_DIR:-} ]]; then
    TOOLS+=(cargo)
fi
echo "netns: prefix $LAB_PREFIX, logs in $LAB_TMP"
if ! h_preflight "${TOOLS[@]}"; then
    h_fail_all "preflight failed (see above)" "${SELECTED[@]}"
else
    if [[ -z ${TAPSERVER:-} ]]; then
        if (cd "$ROOT" && cargo build -q -p tapserver) >"$LAB_TMP/build-tapserver.log" 2>&1; then
            TAPSERVER=$ROOT/target/debug/tapserver
        else
            echo "cargo build -p tapserver failed:"
            tail -n 20 "$LAB_TMP/build-tapserver.log"
        fi
    fi
    if [[ -z ${TAPCLIENT:-} ]]; then
        if (cd "$ROOT" && cargo build -q -p tapclient --bin tapclient) >"$LAB_TMP/build-tapclient.log" 2>&1; then
            TAPCLIENT=$ROOT/target/debug/tapclient
        else
            CLIENT_BUILD_ERR="cargo build -p tapclient failed: $(grep -m1 -E '^error' "$LAB_TMP/build-tapclient.log" || tail -n 1 "$LAB_TMP/build-tapclient.log")"
        fi
    fi
    if [[ -z $CLIENT_BUILD_ERR && ! -x $TAPCLIENT ]]; then
        CLIENT_BUILD_ERR="tapclient binary $TAPCLIENT is missing"
    fi
    if ! PKI_ERR=$(lab_make_pki "$PKI" "$PW" "$ROOT" 2>&1); then
        PKI_ERR=${PKI_ERR:-unknown error}
    else
        PKI_ERR=''
    fi
    head -c "${XFER_MB}M" /dev/urandom >"$PAYLOAD"
    PAYLOAD_BYTES=$(stat -c %s "$PAYLOAD")
    PAYLOAD_SHA=$(sha256sum "$PAYLOAD" | cut -d' ' -f1)
    if [[ -z ${TAPSERVER:-} || ! -x $TAPSERVER ]]; then
        h_fail_all "no tapserver binary" "${SELECTED[@]}"
    else
        for s in "${SELECTED[@]}"; do
            h_run "$s" "scenario_${s//-/_}"
        done
    fi
fi

echo "netns: $H_PASSED passed, $H_FAILED failed"
((H_FAILED == 0))
