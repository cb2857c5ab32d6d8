#!/usr/bin/env bash
# Faults against a stock OpenVPN 2.6 TAP server over TCP, in two network namespaces (issue 4,
# "How it is proven"). In each scenario a ping runs through the tunnel (10 a second, with
# timestamps) while the fault is injected; the scenario prints the outage (last reply before ->
# first reply after), the pings lost and the recovery time, and proves the tunnel afterwards
# with checksummed transfers. docs/faults.md describes what tapclient does in each case.
#
# usage: sudo interop/run-fault-tests.sh [SCENARIO...]     (default: all, in this order)
#   server-restart link-down tcp-reset second-remote auth-user-pass cbc-only sighup sigterm
#   client-reneg soak
# env:   TAPCLIENT              use this binary instead of building target/debug/tapclient
#        PKI_DIR, PKI_PASSWORD  use a ready PKI (same file names as tapclient-certs writes)
#        OPENVPN                the openvpn binary (default: from PATH)
#        XFER_MB=20             size of each checksummed transfer
#        SERVER_DOWN_S=3        how long the server stays dead in server-restart / cbc-only
#        LINK_DOWN_S=20         how long the underlay is down in link-down
#        RENEG_MINUTES=5        how long client-reneg runs (reneg_sec = 10)
#        SOAK_SECONDS=120       how long soak runs traffic both ways
#        SOAK_RSS_GROWTH_KB=2048  the RSS growth soak allows after its warm-up
#        KEEP_TMP=1             keep the temp dir (logs, configs, ping logs) even when all passed
# Prints PASS/FAIL per scenario with the measurements, the tails of its logs on failure, and a
# last line "faults: N passed, M failed"; exits non-zero if anything failed. Needs root: without
# it, or without a tool, every scenario FAILS (never skips).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
source "$HERE/lib/netns.sh"
lab_init tapclient-faults
source "$HERE/lib/harness.sh"
source "$HERE/lib/pki.sh"
source "$HERE/lib/openvpn.sh"
source "$HERE/lib/faults.sh"

ALL=(server-restart link-down tcp-reset second-remote auth-user-pass cbc-only sighup sigterm
    client-reneg soak)
PW=${PKI_PASSWORD:-interop-pw}
PKI=$LAB_TMP/pki
OVPN_PKI=$PKI
OVPN_KEYS=$PKI
XFER_MB=${XFER_MB:-20}
SERVER_DOWN_S=${SERVER_DOWN_S:-3}
LINK_DOWN_S=${LINK_DOWN_S:-20}
RENEG_MINUTES=${RENEG_MINUTES:-5}
SOAK_SECONDS=${SOAK_SECONDS:-120}
SOAK_RSS_GROWTH_KB=${SOAK_RSS_GROWTH_KB:-2048}
PAYLOAD=$LAB_TMP/payload.bin
CLIENT_TUN=tc0
TUNNEL_SERVER_IP=$OVPN_SRV_IP
TUNNEL_CLIENT_IP=$OVPN_CLI_IP
TUNNEL_SERVER_DEV=$OVPN_SRV_TAP
H_TAIL_LINES=${H_TAIL_LINES:-25}
# The user the auth-user-pass server accepts. Test credentials, not secrets; still, tapclient
# must never log the password (checked).
AUTH_USER=alice
AUTH_PASS='correct horse 7'
# A remote nobody answers: routed to the server namespace, which does not forward (silently
# dropped, so the TCP connect times out like a dead server's).
DEAD_REMOTE=198.18.99.1
# What tapclient logs when the tunnel is up (the state line; older builds: "tunnel
# established"), and per completed rekey.
LOG_ESTABLISHED='state [a-z]+ -> up|tunnel established'
LOG_REKEYED='renegotiation complete'

# ------------------------------------------------------------------ helpers (scenario context)
#
# State of the current scenario: SERVER_NAME (file stem of the running server, its log is
# SCEN_DIR/SERVER_NAME.log), CLIENT_PID / CLIENT_LOG / CLIENT_DEV (tapclient, from
# scen_start_tapclient), PING_PID / PING_LOG (fault_ping_start).

server_log() { printf '%s/%s.log' "$SCEN_DIR" "$SERVER_NAME"; }

# server_up NAME VARIANT... — the stock server with the fault template (lib/faults.sh).
server_up() {
    SERVER_NAME=$1
    shift
    faults_start_server "$SCEN_DIR" "$SERVER_NAME" "$@" 2>"$SCEN_DIR/$SERVER_NAME-start.err" ||
        scen_fail "server side broken: $(tr '\n' ' ' <"$SCEN_DIR/$SERVER_NAME-start.err")"
}

# server_kill — SIGKILL the running server; waits until it and its TAP are gone.
server_kill() {
    kill -KILL "$FAULT_SERVER_PID"
    lab_wait_exit "$FAULT_SERVER_PID" 5 || scen_fail "openvpn survived SIGKILL"
    lab_wait_until 5 eval "! lab_link_exists '$SRV_NS' '$OVPN_SRV_TAP'" ||
        scen_fail "the server's $OVPN_SRV_TAP outlived openvpn"
}

# stock_reference AUTH_FILE VARIANT... — prove the server variant with the stock client: up, one
# ping through the tunnel, stop; then the server forgets its MAC.
stock_reference() {
    local auth=$1
    shift
    faults_stock_client "$SCEN_DIR" stock-reference "$auth" "$@" 2>"$SCEN_DIR/stock-reference.err" ||
        scen_fail "server side broken: $(tr '\n' ' ' <"$SCEN_DIR/stock-reference.err")"
    lab_wait_ping "$CLI_NS" "$OVPN_SRV_IP" 10 "$OVPN_CLIENT_PID" ||
        scen_fail "server side broken: the stock client connected but no ping reply from $OVPN_SRV_IP"
    lab_stop "$OVPN_CLIENT_PID" 10 || scen_fail "the stock client needed SIGKILL"
    lab_wait_until 10 eval "! lab_link_exists '$CLI_NS' '$OVPN_STOCK_TAP'" ||
        scen_fail "the stock client's $OVPN_STOCK_TAP is still there"
    lab_wait_until 5 grep -qE 'Connection reset|client-instance exiting|SIGTERM\[soft' "$(server_log)" || true
    ip -n "$SRV_NS" neigh flush dev "$OVPN_SRV_TAP" 2>/dev/null || true
}

# write_config FILE [KEY=VALUE...] — tapclient's TOML. Keys:
#   remote=HOST:PORT[,HOST:PORT...]  (default the lab server; several: a TOML array)
#   ciphers=A[,B...]  auth=DIGEST  reneg=SECONDS            ([openvpn])
#   auth_file=PATH  auth_user=NAME  auth_pass_env=VAR  auth_pass_file=PATH   ([auth_user_pass])
#   connect_timeout=SECONDS (5)
write_config() {
    local file=$1 kv remote="$SRV_UNDERLAY:$OVPN_PORT" ciphers='' auth='' reneg='' timeout=5
    local a_file='' a_user='' a_env='' a_pfile='' r list=''
    shift
    for kv in "$@"; do
        case $kv in
            remote=*) remote=${kv#remote=} ;;
            ciphers=*) ciphers=${kv#ciphers=} ;;
            auth=*) auth=${kv#auth=} ;;
            reneg=*) reneg=${kv#reneg=} ;;
            auth_file=*) a_file=${kv#auth_file=} ;;
            auth_user=*) a_user=${kv#auth_user=} ;;
            auth_pass_env=*) a_env=${kv#auth_pass_env=} ;;
            auth_pass_file=*) a_pfile=${kv#auth_pass_file=} ;;
            connect_timeout=*) timeout=${kv#connect_timeout=} ;;
            *) scen_fail "write_config: unknown option $kv" ;;
        esac
    done
    if [[ $remote == *,* ]]; then
        for r in ${remote//,/ }; do list+="${list:+, }\"$r\""; done
        remote="[$list]"
    else
        remote="\"$remote\""
    fi
    {
        printf '[server]\nprotocol = "openvpn"\nremote = %s\nconnect_timeout = %s\n\n' "$remote" "$timeout"
        printf '[tls]\nca = "%s"\npkcs12 = "%s"\npassword_file = "%s"\n\n' "$PKI/ca.crt" "$PKI/client.p12" "$PKI/p12.pass"
        if [[ -n $ciphers$auth$reneg ]]; then
            printf '[openvpn]\n'
            if [[ -n $ciphers ]]; then printf 'ciphers = ["%s"]\n' "${ciphers//,/\", \"}"; fi
            if [[ -n $auth ]]; then printf 'auth = "%s"\n' "$auth"; fi
            if [[ -n $reneg ]]; then printf 'reneg_sec = %s\n' "$reneg"; fi
            printf '\n'
        fi
        if [[ -n $a_file$a_user ]]; then
            printf '[auth_user_pass]\n'
            if [[ -n $a_file ]]; then printf 'file = "%s"\n' "$a_file"; fi
            if [[ -n $a_user ]]; then printf 'username = "%s"\n' "$a_user"; fi
            if [[ -n $a_env ]]; then printf 'password_env = "%s"\n' "$a_env"; fi
            if [[ -n $a_pfile ]]; then printf 'password_file = "%s"\n' "$a_pfile"; fi
            printf '\n'
        fi
        printf '[tun]\nname = "%s"\n\n' "$CLIENT_TUN"
        printf '[reconnect]\ninitial_delay = 1\nmax_delay = 4\nfirst_connect_attempts = 2\n'
    } >"$file"
}

# log_msg [WIDTH] — tapclient log lines on stdin without their timestamp, cut to WIDTH (120).
log_msg() { sed -E 's/^[0-9]{4}-[0-9-]+T[0-9:.]+Z +//' | cut -c1-"${1:-120}"; }

# The last error-looking line of the client's log, shortened.
last_error_line() {
    { grep -iE 'error|fail|warn|refus|reject|not supported|unsupported|unknown' "$CLIENT_LOG" 2>/dev/null || tail -n 1 "$CLIENT_LOG"; } |
        tail -n 1 | cut -c1-200
}

# client_up CONFIG — tapclient with CONFIG; first ping through the tunnel within 30 s (UP_MS);
# the pushed address on tc0.
client_up() {
    scen_start_tapclient "$1"
    scen_wait_tunnel 30 last_error_line
    local state
    state=$(fault_iface_state "$CLIENT_TUN")
    [[ $state == ok ]] || scen_fail "after the first ping: $state"
}

# fault_up "SERVER_VARIANTS" "CONFIG_OPTIONS" — namespaces, server, tapclient up.
fault_up() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    # shellcheck disable=SC2086 # word lists
    server_up openvpn-server $1
    # shellcheck disable=SC2086
    write_config "$SCEN_DIR/client.toml" $2
    client_up "$SCEN_DIR/client.toml"
}

# monitor — the interface watch and the ping through the tunnel, with 2 s of replies before the
# fault.
monitor() {
    fault_watch_start
    fault_ping_start "$CLI_NS" "$OVPN_SRV_IP" ping
    lab_wait_until 5 reply_after 0 || scen_fail "the background ping got no reply before the fault"
    sleep 2
}

reply_after() { [[ -n $(fault_first_reply_after "$PING_LOG" "$1") ]]; }

# await_recovery T_MS TIMEOUT_S WHAT — a ping reply after T_MS within TIMEOUT_S, else fail
# (saying whether tapclient still runs). Sets T_BACK (epoch ms of that reply).
await_recovery() {
    local t=$1 deadline=$(($(lab_now_ms) + $2 * 1000))
    until reply_after "$t"; do
        if ! lab_alive "$CLIENT_PID"; then
            lab_wait_exit "$CLIENT_PID" 1 || true
            scen_fail "$3: tapclient exited (code $LAB_RC): $(last_error_line)"
        fi
        (($(lab_now_ms) < deadline)) || scen_fail "$3: no ping reply within $2 s: $(last_error_line)"
        sleep 0.2
    done
    T_BACK=$(fault_first_reply_after "$PING_LOG" "$t")
}

# finish_ping T_FAULT_MS [LABEL] — a second more of pings, stop, PING_NOTE with the longest
# gap after T_FAULT_MS (LABEL, default: the outage) and the loss.
finish_ping() {
    sleep 1
    fault_ping_stop
    fault_ping_report "$PING_LOG" "$1"
    PING_NOTE="${2:-outage (last reply before -> first after)} ${P_GAP_MS} ms, $P_LOST of $P_SENT pings lost"
}

# no_removals — the ip monitor saw nothing of tc0, its address or routes go away.
no_removals() {
    local gone
    gone=$(fault_watch_removals "$CLIENT_TUN")
    [[ -z $gone ]] || scen_fail "during the fault the client namespace lost: $(head -n 3 <<<"$gone" | tr '\n' '|')"
}

# established_ms N — epoch ms of tapclient's Nth "tunnel established" line (fails without one).
established_ms() {
    local line
    line=$(fault_nth_line "$CLIENT_LOG" "$LOG_ESTABLISHED" "$1")
    [[ -n $line ]] || scen_fail "tapclient logged the tunnel up (/$LOG_ESTABLISHED/) fewer than $1 times"
    fault_log_ms "$line"
}

xfers() {
    XFER_NOTE=''
    scen_xfer s2c "$1" tapclient
    scen_xfer c2s $(($1 + 1)) tapclient
}

# stop_client — SIGTERM: exit 0 within 10 s, tc0 gone within 3 s.
stop_client() { scen_stop_client 3; }

# client_port — tapclient's local TCP port to the server (nothing if not connected).
client_port() {
    ip netns exec "$CLI_NS" ss -Htn state established "dport = :$OVPN_PORT" |
        awk '{print $3}' | sed 's/.*://' | head -n 1
}

# ------------------------------------------------------------------ scenarios

# The server is SIGKILLed and started again SERVER_DOWN_S later, with a new TAP (new MAC).
scenario_server_restart() {
    fault_up route ""
    monitor
    local old_mac new_mac t_kill t_srv est first
    old_mac=$(lab_mac_of "$SRV_NS" "$OVPN_SRV_TAP")
    t_kill=$(lab_now_ms)
    server_kill
    fault_sample_iface "$CLIENT_TUN" "$OVPN_ROUTE_CIDR" "$SERVER_DOWN_S"
    [[ -z $IFACE_BAD ]] || scen_fail "while the server was down: $IFACE_BAD"
    server_up openvpn-server-2 route
    t_srv=$(lab_now_ms)
    new_mac=$(lab_mac_of "$SRV_NS" "$OVPN_SRV_TAP")
    [[ $new_mac != "$old_mac" ]] || scen_fail "the restarted server's TAP kept MAC $old_mac: the neighbour check proves nothing"
    await_recovery "$t_srv" 40 "after the restart"
    est=$(established_ms 2)
    first=$((T_BACK - est))
    # A stale neighbour entry would hold the first reply until it expires (60 s).
    ((first < 2000)) ||
        scen_fail "first reply ${first} ms after the tunnel was re-established (a stale ARP entry for the old server MAC?)"
    finish_ping "$t_kill"
    no_removals
    [[ $(fault_iface_state "$CLIENT_TUN" "$OVPN_ROUTE_CIDR") == ok ]] || scen_fail "after recovery: $(fault_iface_state "$CLIENT_TUN" "$OVPN_ROUTE_CIDR")"
    xfers 5001
    stop_client
    scen_pass "SIGKILL, ${SERVER_DOWN_S} s down, restart: $PING_NOTE; back $((T_BACK - t_srv)) ms after the server listened again; first reply $first ms after tapclient logged the tunnel up (server MAC $old_mac -> $new_mac); tc0, $OVPN_CLI_IP/24 and route $OVPN_ROUTE_CIDR present in $IFACE_SAMPLES samples while down, none removed; $XFER_NOTE"
}

# The client's underlay link down for LINK_DOWN_S; the server pushes ping 2, ping-restart 10.
scenario_link_down() {
    fault_up "keepalive=2,10 route" ""
    local push
    push=$(ovpn_push_reply "$(server_log)")
    [[ $push == *"ping-restart 10"* ]] || scen_fail "the server did not push ping-restart 10: $push"
    monitor
    local t_down t_up restart_line restart_ms
    t_down=$(lab_now_ms)
    ip -n "$CLI_NS" link set u-cli down
    fault_sample_iface "$CLIENT_TUN" "$OVPN_ROUTE_CIDR" "$LINK_DOWN_S"
    [[ -z $IFACE_BAD ]] || scen_fail "while the link was down: $IFACE_BAD"
    ip -n "$CLI_NS" link set u-cli up
    t_up=$(lab_now_ms)
    restart_line=$(grep -m1 -E 'ping-restart' "$CLIENT_LOG" | grep -v 'PUSH' || true)
    [[ -n $restart_line ]] || scen_fail "no ping-restart in tapclient's log after ${LINK_DOWN_S} s without the server: $(last_error_line)"
    restart_ms=$(($(fault_log_ms "$restart_line") - t_down))
    await_recovery "$t_up" 30 "after the link came back"
    finish_ping "$t_down"
    no_removals
    xfers 5001
    stop_client
    scen_pass "link down ${LINK_DOWN_S} s: ping-restart after ${restart_ms} ms ('${restart_line#*lost: }'); $PING_NOTE; back $((T_BACK - t_up)) ms after the link came up; tc0/address/route kept; $XFER_NOTE"
}

# A TCP RST toward tapclient: the server namespace answers the client's next segment on the
# established connection with `reject with tcp reset` (only that 4-tuple: reconnects pass).
scenario_tcp_reset() {
    fault_up "" ""
    monitor
    local port t_fault hits='' lost
    port=$(client_port)
    [[ -n $port ]] || scen_fail "no established TCP connection to port $OVPN_PORT in the client namespace"
    ip netns exec "$SRV_NS" nft -f - <<EOF
table inet fault {
    chain input {
        type filter hook input priority 0; policy accept;
        ip saddr $CLI_UNDERLAY tcp sport $port tcp dport $OVPN_PORT counter reject with tcp reset
    }
}
EOF
    t_fault=$(lab_now_ms)
    lab_wait_until 5 eval "ip netns exec '$SRV_NS' nft list table inet fault | grep -qE 'packets [1-9]'" ||
        scen_fail "no packet of the connection (port $port) reached the reset rule within 5 s"
    hits=$(ip netns exec "$SRV_NS" nft list table inet fault | grep -oE 'packets [0-9]+')
    ip netns exec "$SRV_NS" nft delete table inet fault
    await_recovery "$t_fault" 30 "after the reset"
    finish_ping "$t_fault"
    no_removals
    lost=$(grep -m1 -E 'lost' "$CLIENT_LOG" | sed 's/.*lost: //' | cut -c1-100 || true)
    [[ -n $lost ]] || scen_fail "tapclient recovered but logged no lost link"
    [[ $(client_port) != "$port" ]] || scen_fail "still on the old TCP connection (port $port)"
    xfers 5001
    stop_client
    scen_pass "RST on port $port ($hits rejected): $PING_NOTE; recovered $P_RECOVERY_MS ms after the rule; tapclient: '$lost'; $XFER_NOTE"
}

# remote = [dead, live]: the first times out (connect_timeout 5), the second is tried at once.
scenario_second_remote() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    server_up openvpn-server
    ip -n "$CLI_NS" route add "$DEAD_REMOTE/32" via "$SRV_UNDERLAY"
    write_config "$SCEN_DIR/client.toml" "remote=$DEAD_REMOTE:$OVPN_PORT,$SRV_UNDERLAY:$OVPN_PORT"
    client_up "$SCEN_DIR/client.toml"
    local first second gave_up t_first t_gave t_second t_est
    first=$(grep -m1 -E "connecting(:| remote=) ?$DEAD_REMOTE:" "$CLIENT_LOG" || true)
    gave_up=$(grep -m1 -E "(no connection|cannot connect|timed? ?out|unreachable).*$DEAD_REMOTE:" "$CLIENT_LOG" || true)
    second=$(grep -m1 -E "connecting(:| remote=) ?$SRV_UNDERLAY:$OVPN_PORT" "$CLIENT_LOG" || true)
    [[ -n $first ]] || scen_fail "tapclient never tried the first remote $DEAD_REMOTE: $(last_error_line)"
    [[ -n $second ]] || scen_fail "tapclient never logged connecting to $SRV_UNDERLAY:$OVPN_PORT"
    [[ -n $gave_up ]] || scen_fail "tapclient logged no failure for $DEAD_REMOTE"
    t_first=$(fault_log_ms "$first")
    t_second=$(fault_log_ms "$second")
    t_est=$(established_ms 1)
    ((t_first < t_second)) || scen_fail "tapclient tried $SRV_UNDERLAY before $DEAD_REMOTE"
    t_gave=$(fault_log_ms "$gave_up")
    ((t_second - t_gave < 1000)) ||
        scen_fail "$((t_second - t_gave)) ms between giving up on $DEAD_REMOTE and trying $SRV_UNDERLAY (expected at once)"
    scen_pings_both_ways 3
    xfers 5001
    stop_client
    scen_pass "remote = [$DEAD_REMOTE (silent), $SRV_UNDERLAY]: gave up the first after $((t_gave - t_first)) ms ('$(log_msg 200 <<<"$gave_up" | sed 's/.*-> [a-z ]*: //')'), the second tried $((t_second - t_gave)) ms later, tunnel established $((t_est - t_first)) ms after the first attempt (first ping ${UP_MS} ms after start); $PING_NOTE; $XFER_NOTE"
}

# reneg_sec = 10 on the client (the server never starts one: reneg-sec 0) for RENEG_MINUTES.
scenario_client_reneg() {
    fault_up reneg=0 "reneg=10"
    monitor
    local secs=$((RENEG_MINUTES * 60)) t0 rekeys min_rekeys ids wrapped server_keys
    t0=$(lab_now_ms)
    lab_note "pinging for ${secs} s through client renegotiations (reneg_sec 10)"
    local end=$((t0 + secs * 1000))
    while (($(lab_now_ms) < end)); do
        lab_alive "$CLIENT_PID" || scen_fail "tapclient exited during the renegotiations: $(last_error_line)"
        sleep 2
    done
    finish_ping "$t0" "longest gap between replies"
    rekeys=$(fault_count "$CLIENT_LOG" "$LOG_REKEYED")
    min_rekeys=$((secs / 12))
    ((P_LOST == 0)) || scen_fail "$P_LOST of $P_SENT pings lost during $rekeys renegotiations ($PING_NOTE)"
    ((rekeys >= min_rekeys)) || scen_fail "$rekeys renegotiations in ${secs} s with reneg_sec 10 (expected at least $min_rekeys): $(last_error_line)"
    ids=$(grep -E -- "$LOG_REKEYED" "$CLIENT_LOG" | grep -oE 'key_id=[0-9]+' | cut -d= -f2 | tr '\n' ' ')
    wrapped=no
    if [[ " $ids" == *" 7 1 "* ]]; then wrapped=yes; fi
    if ((rekeys >= 8)) && [[ $wrapped != yes ]]; then
        scen_fail "key_id never went 7 -> 1 in $rekeys renegotiations: $ids"
    fi
    server_keys=$(ovpn_count_keys "$(server_log)")
    ((server_keys >= rekeys)) || scen_fail "the server installed $server_keys data keys, tapclient logged $rekeys renegotiations"
    xfers 5001
    stop_client
    scen_pass "${secs} s, $rekeys client renegotiations (server installed $server_keys keys), key_id 7 -> 1 seen: $wrapped ($(cut -c1-40 <<<"$ids")...); $PING_NOTE; $XFER_NOTE"
}

# The server checks username/password with a script accepting one user.
scenario_auth_user_pass() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    local good=$SCEN_DIR/auth-good.txt bad=$SCEN_DIR/auth-bad.txt pfile=$SCEN_DIR/auth.pass notes=()
    printf '%s\n%s\n' "$AUTH_USER" "$AUTH_PASS" >"$good"
    printf '%s\n%s\n' mallory "$AUTH_PASS" >"$bad"
    printf '%s\n' "$AUTH_PASS" >"$pfile"
    chmod 600 "$good" "$bad" "$pfile"
    fault_auth_script "$SCEN_DIR" "$AUTH_USER" "$AUTH_PASS"
    server_up openvpn-server auth-user-pass
    stock_reference "$good" auth-user-pass
    local variant opts
    for variant in file password_env password_file; do
        case $variant in
            file) opts="auth_file=$good" ;;
            password_env) opts="auth_user=$AUTH_USER auth_pass_env=FAULT_AUTH_PASSWORD" ;;
            password_file) opts="auth_user=$AUTH_USER auth_pass_file=$pfile" ;;
        esac
        # shellcheck disable=SC2086 # word list
        write_config "$SCEN_DIR/client-$variant.toml" $opts
        FAULT_AUTH_PASSWORD=$AUTH_PASS
        export FAULT_AUTH_PASSWORD
        client_up "$SCEN_DIR/client-$variant.toml"
        export -n FAULT_AUTH_PASSWORD
        lab_ping_n "$CLI_NS" "$OVPN_SRV_IP" 3 >/dev/null || scen_fail "$variant: pings after the first failed"
        stop_client
        mv "$CLIENT_LOG" "$SCEN_DIR/tapclient-$variant.log"
        CLIENT_LOG=$SCEN_DIR/tapclient-$variant.log
        ! grep -qF -- "$AUTH_PASS" "$CLIENT_LOG" || scen_fail "$variant: tapclient logged the password"
        notes+=("$variant up in ${UP_MS} ms")
    done
    local accepted
    accepted=$(fault_count "$(server_log)" "authentication succeeded for username '$AUTH_USER'|Username/Password authentication succeeded")
    ((accepted >= 4)) || scen_fail "the server logged $accepted accepted logins (stock + 3 tapclient variants)"
    # A user the script rejects: AUTH_FAILED, exit 4, no retrying.
    write_config "$SCEN_DIR/client-rejected.toml" "auth_file=$bad"
    scen_start_tapclient "$SCEN_DIR/client-rejected.toml"
    local t0 msg
    t0=$(lab_now_ms)
    lab_wait_exit "$CLIENT_PID" 20 || scen_fail "rejected user: tapclient still running after 20 s: $(last_error_line)"
    [[ $LAB_RC == 4 ]] || scen_fail "rejected user: exit code $LAB_RC (expected 4): $(last_error_line)"
    msg=$(grep -m1 -E 'AUTH_FAILED' "$CLIENT_LOG" | log_msg 140 || true)
    [[ -n $msg ]] || scen_fail "rejected user: exit 4 but no AUTH_FAILED in the message: $(last_error_line)"
    ! scen_client_dev_exists || scen_fail "rejected user: $CLIENT_TUN left behind"
    ! grep -qF -- "$AUTH_PASS" "$CLIENT_LOG" || scen_fail "rejected user: tapclient logged the password"
    local IFS=,
    scen_pass "server accepts $AUTH_USER: ${notes[*]}; user mallory: exit 4 after $(($(lab_now_ms) - t0)) ms, '$msg'; password never in tapclient's logs"
}

# A server offering only AES-256-CBC with HMAC-SHA256; killed and restarted once.
scenario_cbc_only() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    server_up openvpn-server cbc
    stock_reference '' cbc
    write_config "$SCEN_DIR/client.toml" ciphers=AES-256-CBC auth=SHA256
    client_up "$SCEN_DIR/client.toml"
    local ciphers t_kill
    ciphers=$(ovpn_data_ciphers "$(server_log)")
    [[ $ciphers == AES-256-CBC ]] || scen_fail "the server installed data cipher(s) '$ciphers', expected AES-256-CBC"
    grep -qE "Incoming Data Channel: Using 256 bit message hash 'SHA256'" "$(server_log)" ||
        scen_fail "the server log shows no HMAC-SHA256 data channel"
    scen_pings_both_ways 3
    xfers 5001
    local first_xfer=$XFER_NOTE
    monitor
    t_kill=$(lab_now_ms)
    server_kill
    sleep "$SERVER_DOWN_S"
    server_up openvpn-server-2 cbc
    await_recovery "$(lab_now_ms)" 40 "after the CBC server's restart"
    finish_ping "$t_kill"
    ciphers=$(ovpn_data_ciphers "$(server_log)")
    [[ $ciphers == AES-256-CBC ]] || scen_fail "after the restart the server installed '$ciphers', expected AES-256-CBC"
    no_removals
    xfers 5003
    stop_client
    scen_pass "AES-256-CBC + HMAC-SHA256 (stock client first): up in ${UP_MS} ms; $first_xfer; SIGKILL + restart: $PING_NOTE; then $XFER_NOTE"
}

# SIGHUP: a new connection (and session) without touching tc0; the auth file is read again.
scenario_sighup() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    local auth=$SCEN_DIR/auth.txt
    printf '%s\n%s\n' "$AUTH_USER" "$AUTH_PASS" >"$auth"
    chmod 600 "$auth"
    fault_auth_script "$SCEN_DIR" "$AUTH_USER" "$AUTH_PASS"
    server_up openvpn-server auth-user-pass route
    write_config "$SCEN_DIR/client.toml" "auth_file=$auth"
    client_up "$SCEN_DIR/client.toml"
    monitor
    local sessions port t_hup from
    sessions=$(fault_count "$(server_log)" 'Peer Connection Initiated')
    port=$(client_port)
    t_hup=$(lab_now_ms)
    kill -HUP "$CLIENT_PID"
    lab_wait_until 15 eval "(( \$(fault_count '$(server_log)' 'Peer Connection Initiated') > $sessions ))" ||
        scen_fail "SIGHUP: the server saw no new session within 15 s (tapclient $(lab_alive "$CLIENT_PID" && echo running || echo exited)): $(last_error_line)"
    await_recovery "$t_hup" 20 "after SIGHUP"
    finish_ping "$t_hup"
    no_removals
    [[ $(client_port) != "$port" ]] || scen_fail "SIGHUP: still the same TCP connection (port $port)"
    local hup_note="SIGHUP: new TCP connection and server session, $PING_NOTE, tc0 kept"
    # Now the password is wrong: the next SIGHUP must read it and report the server's AUTH_FAILED.
    printf '%s\n%s\n' "$AUTH_USER" "not-$AUTH_PASS" >"$auth"
    from=$(($(wc -l <"$CLIENT_LOG") + 1))
    kill -HUP "$CLIENT_PID"
    lab_wait_until 20 eval "tail -n +$from '$CLIENT_LOG' | grep -q AUTH_FAILED" ||
        scen_fail "SIGHUP after the password changed: no AUTH_FAILED reported within 20 s: $(last_error_line)"
    local msg state
    msg=$(tail -n "+$from" "$CLIENT_LOG" | grep -m1 AUTH_FAILED | log_msg 120)
    if lab_wait_exit "$CLIENT_PID" 5; then
        [[ $LAB_RC == 4 ]] || scen_fail "after AUTH_FAILED tapclient exited with $LAB_RC (expected 4)"
        state="exit 4"
    else
        state="still running"
        stop_client
    fi
    grep -qE "authentication failed for username '$AUTH_USER'|Username/Password authentication failed|verification failed" "$(server_log)" ||
        scen_fail "the server logged no failed login for the changed password"
    ! grep -qF -- "$AUTH_PASS" "$CLIENT_LOG" || scen_fail "tapclient logged the password"
    scen_pass "$hup_note; SIGHUP with a changed (wrong) password: '$msg' ($state)"
}

# SIGTERM: exit 0 within 2 s, everything undone, the server sees the client leave.
scenario_sigterm() {
    fault_up route ""
    scen_pings_both_ways 2
    local from t0 dt left
    from=$(($(wc -l <"$(server_log)") + 1))
    t0=$(lab_now_ms)
    kill -TERM "$CLIENT_PID"
    lab_wait_exit "$CLIENT_PID" 2 || scen_fail "tapclient still running 2 s after SIGTERM"
    dt=$(($(lab_now_ms) - t0))
    [[ $LAB_RC == 0 ]] || scen_fail "SIGTERM: exit code $LAB_RC (expected 0)"
    ! scen_client_dev_exists || scen_fail "$CLIENT_TUN still exists after exit"
    ! ip -n "$CLI_NS" -4 route show "$OVPN_ROUTE_CIDR" | grep -q . || scen_fail "route $OVPN_ROUTE_CIDR left behind"
    ! ip -n "$CLI_NS" -4 addr | grep -qF "$OVPN_CLI_IP/" || scen_fail "$OVPN_CLI_IP left behind"
    # With cc-exit negotiated tapclient says EXIT first ("CC-EEN exit message received by
    # peer"); without it, the closed connection is all the server sees.
    local pattern='Connection reset|client-instance exiting' how="connection closed"
    if [[ $(ovpn_push_reply "$(server_log)") == *"protocol-flags"*"cc-exit"* ]]; then
        pattern='exit message received by peer' how="told the server (cc-exit negotiated)"
    fi
    lab_wait_until 5 eval "tail -n +$from '$(server_log)' | grep -qE '$pattern'" ||
        scen_fail "the server did not log /$pattern/ within 5 s of SIGTERM: $(tail -n "+$from" "$(server_log)" | ovpn_strip_prefix | head -n 3 | tr '\n' '|')"
    left="$how: '$(tail -n "+$from" "$(server_log)" | grep -m1 -E "$pattern" | ovpn_strip_prefix | cut -c1-80)'"
    scen_pass "exit 0 ${dt} ms after SIGTERM; $CLIENT_TUN, $OVPN_CLI_IP and route $OVPN_ROUTE_CIDR gone; $left"
}

# SOAK_SECONDS of checksummed transfers both ways and a ping; tapclient's RSS sampled.
scenario_soak() {
    fault_up "" ""
    FAULT_PING_INTERVAL=0.2
    fault_ping_start "$CLI_NS" "$OVPN_SRV_IP" ping
    fault_rss_start "$CLIENT_PID"
    local t0 end warm n=0 port=5100
    t0=$(lab_now_ms)
    end=$((t0 + SOAK_SECONDS * 1000))
    warm=$((SOAK_SECONDS / 4))
    ((warm >= 20)) || warm=20
    lab_note "soak: ${SOAK_SECONDS} s of ${XFER_MB} MiB transfers both ways (RSS warm-up ${warm} s)"
    while (($(lab_now_ms) < end)); do
        fault_xfer_both "$port"
        n=$((n + 1))
        port=$((port + 2))
        lab_alive "$CLIENT_PID" || scen_fail "tapclient exited during the soak: $(last_error_line)"
    done
    local secs=$((($(lab_now_ms) - t0) / 1000)) drops
    fault_ping_stop
    # Where a lost ping went: the kernel queues into tapclient (tc0) and into the server (tap0).
    drops="queue drops: $CLIENT_TUN tx $(fault_tx_dropped "$CLI_NS" "$CLIENT_TUN"), server $OVPN_SRV_TAP tx $(fault_tx_dropped "$SRV_NS" "$OVPN_SRV_TAP")"
    fault_ping_report "$PING_LOG"
    fault_rss_report $((t0 + warm * 1000))
    ((RSS_N >= 3)) || scen_fail "only $RSS_N RSS samples after the warm-up (run longer: SOAK_SECONDS)"
    local rss="RSS after the ${warm} s warm-up ($RSS_N samples): first $RSS_FIRST kB, min $RSS_MIN, max $RSS_MAX, last $RSS_LAST, growth $RSS_GROWTH kB (peak incl. warm-up $RSS_ALL_MAX kB)"
    ((RSS_GROWTH <= SOAK_RSS_GROWTH_KB)) || scen_fail "RSS grew by $RSS_GROWTH kB after the warm-up (limit $SOAK_RSS_GROWTH_KB): $rss"
    ((P_GAP_MS < 5000)) || scen_fail "the ping went unanswered for $P_GAP_MS ms during the soak ($PING_NOTE)"
    stop_client
    scen_pass "${secs} s: $n x ${XFER_MB} MiB each way at once, every sha256 ok ($((n * XFER_MB * 2)) MiB); $rss; $PING_NOTE ($drops)"
}

# ------------------------------------------------------------------ main

h_select "$@"

TOOLS=(ip ping ss nft stdbuf "$OPENVPN" openssl "$PYTHON" timeout sha256sum head cmp awk sed date)
if [[ -z ${TAPCLIENT:-} || -z ${PKI_DIR:-} ]]; then
    TOOLS+=(cargo)
fi
echo "faults: prefix $LAB_PREFIX, logs in $LAB_TMP"
if ! h_preflight "${TOOLS[@]}"; then
    echo "preflight: the fault lab also needs: apt-get install -y openvpn nftables" >&2
    h_fail_all "preflight failed (see above)" "${SELECTED[@]}"
else
    h_build_tapclient
    h_make_pki "$PKI" "$PW"
    lab_make_payload "$PAYLOAD" "$XFER_MB"
    h_run_selected
fi

h_summary faults
