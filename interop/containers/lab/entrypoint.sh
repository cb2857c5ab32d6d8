#!/usr/bin/env bash
# Entry point of the tapclient interop lab image (interop/docker-compose.yml). One role per
# container:
#
#   serve-openvpn none|tls-auth|tls-crypt   Debian's stock OpenVPN 2.6: TAP server over TCP :1194,
#                                            tap0 10.99.0.1/24, pushes 10.99.0.2/24 to the client
#   serve-tapserver plain|tls               tapserver (simpletun records) on :55555, tap0
#                                            10.98.0.1/24; tls: only behind stunnel :55556 with a
#                                            client certificate required (verify = 2)
#   check SCENARIO openvpn WRAP HOST:PORT   tapclient against a server above, then the checks of
#   check SCENARIO simpletun plain|tls HOST:PORT   lab.py; exits 0 (PASS) or 1 (FAIL)
#
# Every server also runs `lab.py agent` on :7000, which answers only through the tunnel (ping
# back to the client after forgetting its MAC, checksummed transfers). The PKI is mounted at
# /pki (made by interop/containers/make-pki.sh): ca.crt, server.crt/.key, client.p12,
# client.pass, ta.key, tc.key.
set -euo pipefail

PKI=${PKI:-/pki}
AGENT_PORT=7000
OVPN_NET=10.99.0
SIMPLE_NET=10.98.0

log() { echo "lab $(date -u +%H:%M:%S) $*" >&2; }
die() {
    log "$*"
    exit 1
}

need_pki() {
    local f
    for f in "$@"; do
        [[ -r $PKI/$f ]] || die "PKI: $PKI/$f is missing; make the PKI first (interop/containers/make-pki.sh)"
    done
}

# ------------------------------------------------------------------ servers

serve_openvpn() {
    local wrap=${1:-none}
    need_pki ca.crt server.crt server.key
    local conf=/run/openvpn-server.conf
    cp /lab/openvpn-server.conf "$conf"
    case $wrap in
    none) ;;
    tls-auth)
        need_pki ta.key
        echo "tls-auth $PKI/ta.key 0" >>"$conf"
        ;;
    tls-crypt)
        need_pki tc.key
        echo "tls-crypt $PKI/tc.key" >>"$conf"
        ;;
    *) die "serve-openvpn: unknown wrap '$wrap' (none, tls-auth, tls-crypt)" ;;
    esac
    python3 /lab/lab.py agent --tap tap0 --local "$OVPN_NET.1" --port "$AGENT_PORT" &
    log "openvpn server ($wrap) on :1194"
    exec openvpn --config "$conf"
}

serve_tapserver() {
    local mode=${1:-plain} listen=0.0.0.0:55555
    ip tuntap add dev tap0 mode tap
    ip address add "$SIMPLE_NET.1/24" dev tap0
    ip link set dev tap0 up
    python3 /lab/lab.py agent --tap tap0 --local "$SIMPLE_NET.1" --port "$AGENT_PORT" &
    case $mode in
    plain) ;;
    tls)
        need_pki ca.crt server.crt server.key
        listen=127.0.0.1:55555
        cat >/run/stunnel.conf <<EOF
foreground = yes
pid =
syslog = no
debug = notice
[tapserver]
accept = 0.0.0.0:55556
connect = $listen
cert = $PKI/server.crt
key = $PKI/server.key
CAfile = $PKI/ca.crt
verify = 2
EOF
        stunnel /run/stunnel.conf &
        log "stunnel (verify = 2) on :55556 -> $listen"
        ;;
    *) die "serve-tapserver: unknown mode '$mode' (plain, tls)" ;;
    esac
    log "tapserver on $listen"
    exec tapserver --tap tap0 --listen "$listen"
}

# ------------------------------------------------------------------ client

TC_PID=''
stop_tapclient() {
    if [[ -n $TC_PID ]] && kill -0 "$TC_PID" 2>/dev/null; then
        kill -TERM "$TC_PID" 2>/dev/null || true
    fi
}

check() {
    local scenario=$1 protocol=$2 variant=$3 remote=$4
    local mb=${XFER_MB:-16} up_timeout=${UP_TIMEOUT:-45}
    local conf=/run/tapclient.toml tclog=/run/tapclient.log server_ip client_ip
    need_pki ca.crt client.p12 client.pass
    {
        echo "# written by /lab/entrypoint.sh for scenario $scenario"
        echo "[server]"
        echo "protocol = \"$protocol\""
        echo "remote = \"$remote\""
        echo "connect_timeout = 5"
    } >"$conf"
    case $protocol/$variant in
    openvpn/none | openvpn/tls-auth | openvpn/tls-crypt | simpletun/tls)
        cat >>"$conf" <<EOF
[tls]
ca = "$PKI/ca.crt"
pkcs12 = "$PKI/client.p12"
password_file = "$PKI/client.pass"
verify_name = "server"
EOF
        ;;
    simpletun/plain) ;;
    *) die "check: unknown protocol/variant '$protocol/$variant'" ;;
    esac
    case $variant in
    tls-auth) printf '[openvpn]\ntls_auth = "%s/ta.key"\nkey_direction = 1\nauth = "SHA1"\n' "$PKI" >>"$conf" ;;
    tls-crypt) printf '[openvpn]\ntls_crypt = "%s/tc.key"\n' "$PKI" >>"$conf" ;;
    esac
    printf '[tun]\nname = "tc0"\nmtu = 1500\n' >>"$conf"
    if [[ $protocol == simpletun ]]; then
        server_ip=$SIMPLE_NET.1 client_ip=$SIMPLE_NET.2
        printf '[ip]\naddress = "%s/24"\ngateway = "%s"\nroutes = []\n' "$client_ip" "$server_ip" >>"$conf"
    else
        server_ip=$OVPN_NET.1 client_ip=$OVPN_NET.2 # pushed by the server
    fi
    # The server container may still be starting: retry the first connection for a while.
    printf '[reconnect]\ninitial_delay = 1\nmax_delay = 2\nfirst_connect_attempts = 15\n' >>"$conf"

    trap 'stop_tapclient; log "check: FAIL $scenario: stopped by a signal"; exit 1' TERM INT
    tapclient --config "$conf" -v >"$tclog" 2>&1 &
    TC_PID=$!
    log "tapclient (pid $TC_PID) -> $protocol $variant $remote"

    local result=0 rc summary
    # lab.py logs to stderr and prints one summary line on stdout.
    summary=$(python3 /lab/lab.py check --dev tc0 --server "$server_ip" --client "$client_ip" \
        --port "$AGENT_PORT" --mb "$mb" --up-timeout "$up_timeout" \
        --tapclient-pid "$TC_PID" --tapclient-log "$tclog") || result=1

    # Clean stop: SIGTERM -> exit 0 within 10 s, tc0 gone.
    if kill -0 "$TC_PID" 2>/dev/null; then
        kill -TERM "$TC_PID"
        local waited=0
        while kill -0 "$TC_PID" 2>/dev/null && ((waited < 100)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$TC_PID" 2>/dev/null; then
            log "tapclient did not exit within 10 s of SIGTERM"
            kill -KILL "$TC_PID" 2>/dev/null || true
            result=1
        fi
        rc=0
        wait "$TC_PID" || rc=$?
        if ((rc != 0)); then
            log "tapclient exited with $rc after SIGTERM (expected 0)"
            result=1
        fi
    else
        rc=0
        wait "$TC_PID" || rc=$?
        log "tapclient had already exited (status $rc)"
        summary="tapclient exited with status $rc: $(grep -v '^[[:space:]]*$' "$tclog" | tail -n 1 | cut -c1-200)"
        result=1
    fi
    if ip link show dev tc0 >/dev/null 2>&1; then
        log "tc0 still exists after tapclient exited"
        result=1
    fi
    if ((result != 0)); then
        echo "---- tapclient log (last 40 lines)" >&2
        tail -n 40 "$tclog" >&2
        echo "check: FAIL $scenario: ${summary:-checks failed}"
        exit 1
    fi
    echo "check: PASS $scenario: $summary; clean stop"
}

role=${1:-}
shift || true
case $role in
serve-openvpn) serve_openvpn "$@" ;;
serve-tapserver) serve_tapserver "$@" ;;
check)
    (($# == 4)) || die "usage: check SCENARIO openvpn|simpletun VARIANT HOST:PORT"
    check "$@"
    ;;
*) die "usage: entrypoint.sh serve-openvpn WRAP | serve-tapserver plain|tls | check SCENARIO PROTOCOL VARIANT HOST:PORT" ;;
esac
