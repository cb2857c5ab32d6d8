#!/usr/bin/env bash
# tapclient's main job, on one Linux machine: a TAP-mode server in one network namespace,
# tapclient in another with a PKCS#12 identity, and traffic flowing both ways through the TUN.
#   simpletun (default): the simpletun-compatible tapserver behind stunnel (client cert required)
#   openvpn:             Debian's stock OpenVPN 2.6 server, dev tap, proto tcp-server, tls-crypt
#
# usage: sudo interop/demo.sh [simpletun|openvpn]
# Builds what it needs, creates everything under a unique prefix, and removes it all on exit.
# Nothing is configured in the machine's own network namespace.
set -euo pipefail
MODE=${1:-simpletun}
case $MODE in
    simpletun | openvpn) ;;
    *)
        echo "usage: $0 [simpletun|openvpn]" >&2
        exit 2
        ;;
esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/deps.sh
source "$HERE/lib/deps.sh"
if ((EUID != 0)); then
    echo "demo: needs root for network namespaces and the TUN device: sudo $0" >&2
    exit 1
fi
deps_ensure

LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tapclient-demo.XXXXXX")
: >"$LAB_TMP/pids"
# shellcheck source=lib/netns.sh
source "$HERE/lib/netns.sh"
# shellcheck source=lib/pki.sh
source "$HERE/lib/pki.sh"
# shellcheck source=lib/openvpn.sh
source "$HERE/lib/openvpn.sh"
finish() {
    lab_cleanup
    rm -rf "$LAB_TMP"
}
trap finish EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building tapclient, tapserver and the test PKI generator"
(cd "$ROOT" && cargo build -q --workspace)
TAPCLIENT=$ROOT/target/debug/tapclient
TAPSERVER=$ROOT/target/debug/tapserver

say "server namespace $SRV_NS ($SRV_UNDERLAY) and client namespace $CLI_NS ($CLI_UNDERLAY)"
lab_netns_up
lab_make_pki "$LAB_TMP/pki" demo-password "$ROOT"
if [[ $MODE == simpletun ]]; then
    lab_start_tapserver "$LAB_TMP/tapserver.log" --listen "127.0.0.1:$PLAIN_PORT"
    lab_start_stunnel "$LAB_TMP" "$LAB_TMP/pki"
    echo "tapserver: TAP $TAP_IF = $SRV_TAP_IP/24, behind stunnel on $SRV_UNDERLAY:$TLS_PORT (verify = 2)"
    SERVER_IP=$SRV_TAP_IP CLIENT_IP=$CLI_TUN_IP
    cat >"$LAB_TMP/office.toml" <<EOF
[server]
protocol = "simpletun"
remote = "$SRV_UNDERLAY:$TLS_PORT"

[tls]
ca = "pki/ca.crt"
pkcs12 = "pki/client.p12"
password_file = "pki/p12.pass"

[tun]
name = "tap-demo"

[ip]
address = "$CLI_TUN_IP/24"
gateway = "$SRV_TAP_IP"
EOF
else
    OVPN_PKI=$LAB_TMP/pki
    ovpn_make_keys "$OVPN_PKI"
    ovpn_start_server "$LAB_TMP" server tls-crypt
    echo "$(openvpn --version | head -n 1 | cut -d' ' -f1-2): dev tap, proto tcp-server on $SRV_UNDERLAY:$OVPN_PORT, tls-crypt, server $OVPN_SRV_IP/24"
    SERVER_IP=$OVPN_SRV_IP CLIENT_IP=$OVPN_CLI_IP
    cat >"$LAB_TMP/office.toml" <<EOF
[server]
protocol = "openvpn"
remote = "$SRV_UNDERLAY:$OVPN_PORT"

[tls]
ca = "pki/ca.crt"
pkcs12 = "pki/client.p12"
password_file = "pki/p12.pass"

[openvpn]
tls_crypt = "pki/tc.key"

[tun]
name = "tap-demo"
EOF
fi
say "office.toml"
cat "$LAB_TMP/office.toml"

say "tapclient check --config office.toml"
"$TAPCLIENT" check --config "$LAB_TMP/office.toml"

say "tapclient --config office.toml (in $CLI_NS)"
lab_start "$CLI_NS" "$LAB_TMP/tapclient.log" "$TAPCLIENT" --config "$LAB_TMP/office.toml"
CLIENT_PID=$LAB_PID
if ! lab_wait_ping "$CLI_NS" "$SERVER_IP" 15 "$CLIENT_PID"; then
    echo "demo: the tunnel did not come up; tapclient's log:" >&2
    cat "$LAB_TMP/tapclient.log" >&2
    exit 1
fi
sed 's/^/  | /' "$LAB_TMP/tapclient.log"

say "client: the TUN"
ip -n "$CLI_NS" -br address show dev tap-demo

say "client -> server: ping $SERVER_IP"
ip netns exec "$CLI_NS" ping -c 4 -i 0.2 "$SERVER_IP"

say "server -> client: ping $CLIENT_IP (the server forgets us first, ARPs, tapclient answers)"
ip -n "$SRV_NS" neigh del "$CLIENT_IP" dev "$TAP_IF" 2>/dev/null || true
ip netns exec "$SRV_NS" ping -c 4 -i 0.2 "$CLIENT_IP"

say "server's neighbour table: tapclient's MAC on the TAP LAN"
ip -n "$SRV_NS" neigh show dev "$TAP_IF"

say "20 MB over TCP through the tunnel, server -> client, SHA-256 checked"
head -c 20M /dev/urandom >"$LAB_TMP/payload"
want=$(sha256sum "$LAB_TMP/payload" | cut -d' ' -f1)
lab_start "$CLI_NS" "$LAB_TMP/xfer-recv.log" "$PYTHON" "$LAB_LIB_DIR/xfer.py" listen --bind "$CLIENT_IP" --port 5001 --recv
recv_pid=$LAB_PID
lab_wait_until 10 lab_log_has "$LAB_TMP/xfer-recv.log" listening
ip netns exec "$SRV_NS" "$PYTHON" "$LAB_LIB_DIR/xfer.py" connect --host "$CLIENT_IP" --port 5001 --send "$LAB_TMP/payload" >/dev/null
lab_wait_exit "$recv_pid" 60
got=$(grep -o '"sha256": *"[0-9a-f]*"' "$LAB_TMP/xfer-recv.log" | grep -o '[0-9a-f]\{64\}')
rate=$(grep -o '"mbit_s": *[0-9.]*' "$LAB_TMP/xfer-recv.log" | grep -o '[0-9.]*$')
echo "sent     $want"
echo "received $got  (${rate} Mbit/s, debug build)"
[[ $want == "$got" ]] || { echo "demo: checksum mismatch" >&2; exit 1; }

say "SIGTERM: tapclient disconnects and undoes its changes"
lab_stop "$CLIENT_PID" 10
echo "tapclient exited with $LAB_RC"
tail -n 3 "$LAB_TMP/tapclient.log" | sed 's/^/  | /'
if lab_link_exists "$CLI_NS" tap-demo; then
    echo "demo: tap-demo is still there" >&2
    exit 1
fi
echo "tap-demo is gone; demo finished, cleaning up"
