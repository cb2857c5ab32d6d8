#!/usr/bin/env bash
# `tapclient import` against the real peer: for each scenario this writes an OpenVPN client
# profile (.ovpn, the kind users are handed) for the lab's stock OpenVPN 2.6 TAP server, proves
# it with the stock OpenVPN client, imports it with `tapclient import`, checks the output (exit
# 0, extracted files mode 0600, no key material in the TOML, `tapclient check` passes), then
# runs tapclient with the imported TOML, unedited, and pings through the tunnel both ways.
#
# usage: sudo interop/run-import-test.sh [SCENARIO...]     (default: all, in this order)
#   inline-cert-key   <ca>/<cert>/<key> (PKCS#8) + <tls-auth> with key-direction 1,
#                     data-ciphers, keepalive, comp-lzo no, a UDP remote that is skipped
#   inline-rsa-pkcs1  <cert> + <key> as an OpenSSL "RSA PRIVATE KEY" (PKCS#1, made with
#                     openssl), <tls-crypt>, data-ciphers CHACHA20-POLY1305
#   inline-pkcs12     base64 <pkcs12> with askpass FILE and no <ca> (the CA comes out of the
#                     PKCS#12), verify-x509-name, connect-retry
# env:   TAPCLIENT              use this binary instead of building target/debug/tapclient
#        PKI_DIR, PKI_PASSWORD  use a ready PKI (same file names as tapclient-certs writes)
#        OPENVPN                the openvpn binary (default: from PATH)
#        KEEP_TMP=1             keep the temp dir (profiles, TOMLs, logs) even when all passed
# Prints PASS/FAIL per scenario and a last line "import: N passed, M failed"; exits non-zero if
# anything failed. Needs root: without it, or without a tool, every scenario FAILS (never skips).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
source "$HERE/lib/netns.sh"
lab_init tapclient-import
source "$HERE/lib/harness.sh"
source "$HERE/lib/pki.sh"
source "$HERE/lib/openvpn.sh"

ALL=(inline-cert-key inline-rsa-pkcs1 inline-pkcs12)
PW=${PKI_PASSWORD:-interop-pw}
PKI=$LAB_TMP/pki
OVPN_PKI=$PKI
OVPN_KEYS=$PKI
TUNNEL_SERVER_IP=$OVPN_SRV_IP
TUNNEL_CLIENT_IP=$OVPN_CLI_IP
TUNNEL_SERVER_DEV=$OVPN_SRV_TAP
CLIENT_TUN=''  # the imported config names no interface: found once the tunnel is up
# OCC option warnings are logged at verb >= 7; lowered to OVPN_SERVER_VERB once a client is up.
HANDSHAKE_VERB=7

server_log() { printf '%s/openvpn-server.log' "$SCEN_DIR"; }

# server_up VARIANT... — the stock server (lib/openvpn.sh variants) at HANDSHAKE_VERB.
server_up() {
    SERVER_FROM=1
    ovpn_start_server "$SCEN_DIR" openvpn-server "verb=$HANDSHAKE_VERB" "$@" 2>"$SCEN_DIR/server-start.err" ||
        scen_fail "server side broken: $(tr '\n' ' ' <"$SCEN_DIR/server-start.err")"
}

# stock_reference PROFILE — the stock OpenVPN client with the very profile that is imported:
# connect, one ping through the tunnel, stop. Records its option warnings on the server
# (REF_WARN); the rest of the server log (SERVER_FROM) belongs to tapclient.
stock_reference() {
    local log pid
    log=$(server_log)
    lab_start "$CLI_NS" "$SCEN_DIR/stock-client.log" "$OPENVPN" --config "$1" --cd "$SCEN_DIR" --disable-dco --verb 4
    pid=$LAB_PID
    ovpn_wait_log "$pid" "$SCEN_DIR/stock-client.log" 'Initialization Sequence Completed' 30 ||
        scen_fail "the profile does not work with the stock OpenVPN client: $(grep -iE 'error|fail|options' "$SCEN_DIR/stock-client.log" | tail -n 2 | tr '\n' ' ')"
    lab_wait_ping "$CLI_NS" "$OVPN_SRV_IP" 10 "$pid" ||
        scen_fail "server side broken: the stock client connected with the profile but no ping reply from $OVPN_SRV_IP"
    lab_stop "$pid" 10 || scen_fail "the stock client needed SIGKILL"
    lab_wait_until 10 eval "! lab_link_exists '$CLI_NS' '$OVPN_STOCK_TAP'" ||
        scen_fail "the stock client's $OVPN_STOCK_TAP is still there"
    lab_wait_until 5 grep -qE 'Connection reset|client-instance exiting|SIGTERM\[soft' "$log" || true
    REF_WARN=$SCEN_DIR/stock-reference.warnings
    ovpn_option_problems "$log" >"$REF_WARN"
    ip -n "$SRV_NS" neigh flush dev "$OVPN_SRV_TAP" 2>/dev/null || true
    SERVER_FROM=$(($(wc -l <"$log") + 1))
}

# import_profile NAME — `tapclient import NAME.ovpn` in SCEN_DIR; checks the output. Sets
# IMPORT_NOTE.
import_profile() {
    local name=$1 out err file mode n=0
    (cd "$SCEN_DIR" && "$TAPCLIENT" import "$name.ovpn") >"$SCEN_DIR/import.out" 2>"$SCEN_DIR/import.err" ||
        scen_fail "tapclient import exited with $?: $(tr '\n' ' ' <"$SCEN_DIR/import.err" | cut -c1-300)"
    out=$SCEN_DIR/import.out
    err=$SCEN_DIR/import.err
    grep -q "^imported $name.ovpn -> $name.toml" "$out" || scen_fail "import summary missing: $(head -n 2 "$out" | tr '\n' ' ')"
    while read -r file; do
        mode=$(stat -c %a "$file")
        [[ $mode == 600 ]] || scen_fail "extracted $file has mode $mode, not 600"
        n=$((n + 1))
    done < <(sed -n 's/^  wrote \(.*\) (mode 0600)$/\1/p' "$out")
    ((n > 0)) || scen_fail "import wrote no credential file: $(tr '\n' ' ' <"$out" | cut -c1-200)"
    [[ $(stat -c %a "$SCEN_DIR/$name.toml") == 600 ]] || scen_fail "$name.toml is not mode 600"
    ! grep -qE 'BEGIN|PRIVATE' "$SCEN_DIR/$name.toml" || scen_fail "$name.toml contains key material"
    "$TAPCLIENT" check --config "$SCEN_DIR/$name.toml" >"$SCEN_DIR/check.log" 2>&1 ||
        scen_fail "tapclient check rejects the imported config: $(tail -n 1 "$SCEN_DIR/check.log")"
    IMPORT_NOTE="import: $n file(s) 0600, $(grep -c '^tapclient: unsupported' "$err" || true) unsupported reported, check ok"
}

# run_imported NAME CIPHER — tapclient with NAME.toml as imported; ping both ways; the server
# log shows CIPHER and no option warning the stock client did not cause with the same profile.
run_imported() {
    local name=$1 cipher=$2 extra pkt ciphers
    scen_start_tapclient "$SCEN_DIR/$name.toml"
    scen_wait_tunnel 30 last_error_line
    ovpn_set_verb "$SCEN_DIR" openvpn-server "$OVPN_SERVER_VERB" || lab_note "could not lower the server's verbosity"
    CLIENT_DEV=$(ip -n "$CLI_NS" -o link show type tun | awk -F': ' 'NR == 1 {print $2}')
    [[ -n $CLIENT_DEV ]] || scen_fail "tunnel up but no TUN interface in the client namespace"
    scen_pings_both_ways 5
    extra=$(ovpn_option_problems "$(server_log)" "$SERVER_FROM" | grep -vxF -f "$REF_WARN" || true)
    [[ -z $extra ]] || scen_fail "server log: option problems the stock client with the same profile does not cause: $(head -n 3 <<<"$extra" | tr '\n' '|')"
    pkt=$(ovpn_packet_problems "$(server_log)" "$SERVER_FROM")
    [[ -z $pkt ]] || scen_fail "server log: packets from tapclient rejected: $(head -n 3 <<<"$pkt" | tr '\n' '|')"
    ciphers=$(ovpn_data_ciphers "$(server_log)" "$SERVER_FROM")
    [[ $ciphers == "$cipher" ]] || scen_fail "server log: data channel cipher '$ciphers', expected '$cipher'"
    scen_stop_client 3
    RUN_NOTE="tapclient up in ${UP_MS} ms on $CLIENT_DEV; $PING_NOTE; server: cipher $ciphers, no option warnings beyond the stock client's"
}

last_error_line() {
    { grep -iE 'error|fail|warn|refus|reject' "$CLIENT_LOG" 2>/dev/null || tail -n 1 "$CLIENT_LOG"; } |
        tail -n 1 | cut -c1-200
}

# block TAG FILE — an inline block.
block() { printf '<%s>\n%s\n</%s>\n' "$1" "$(cat "$2")" "$1"; }

# profile_head — the connection part every profile shares: the lab server over TCP first, and a
# UDP remote the stock client never reaches and tapclient skips.
profile_head() {
    printf '# %s: profile for the tapclient interop lab\nclient\ndev tap\nproto tcp-client\n' "$1"
    printf 'remote %s %s\nremote %s 1195 udp\n' "$SRV_UNDERLAY" "$OVPN_PORT" "$SRV_UNDERLAY"
    printf 'resolv-retry infinite\nnobind\npersist-key\npersist-tun\nremote-cert-tls server\nverb 3\n'
}

# ------------------------------------------------------------------ scenarios

scenario_inline_cert_key() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    server_up tls-auth comp-lzo-no
    {
        profile_head inline-cert-key
        printf 'data-ciphers AES-256-GCM:AES-128-GCM\nkeepalive 10 60\ncomp-lzo no\nkey-direction 1\n'
        block ca "$PKI/ca.crt"
        block cert "$PKI/client.crt"
        block key "$PKI/client-plain.key"
        block tls-auth "$OVPN_KEYS/ta.key"
    } >"$SCEN_DIR/office.ovpn"
    stock_reference "$SCEN_DIR/office.ovpn"
    import_profile office
    cmp -s <(tr -d '\r' <"$OVPN_KEYS/ta.key") "$SCEN_DIR/office-ta.key" || scen_fail "office-ta.key differs from the <tls-auth> block"
    grep -q '^key_direction = 1' "$SCEN_DIR/office.toml" || scen_fail "office.toml has no key_direction = 1"
    run_imported office AES-256-GCM
    scen_pass "$IMPORT_NOTE; $RUN_NOTE"
}

scenario_inline_rsa_pkcs1() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    server_up tls-crypt cipher=CHACHA20-POLY1305
    local d=$SCEN_DIR
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$d/ext.cnf"
    {
        openssl genrsa -traditional -out "$d/rsa.key" 2048 &&
            openssl req -new -key "$d/rsa.key" -subj /CN=client-rsa -out "$d/rsa.csr" &&
            openssl x509 -req -in "$d/rsa.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -passin "pass:$PW" \
                -CAcreateserial -CAserial "$d/ca.srl" -days 2 -sha256 -extfile "$d/ext.cnf" -out "$d/rsa.crt"
    } >"$d/openssl.log" 2>&1 || scen_fail "openssl could not make the RSA client certificate: $(tail -n 2 "$d/openssl.log" | tr '\n' ' ')"
    [[ $(head -n 1 "$d/rsa.key") == '-----BEGIN RSA PRIVATE KEY-----' ]] ||
        scen_fail "openssl genrsa -traditional did not write a PKCS#1 key: $(head -n 1 "$d/rsa.key")"
    {
        profile_head inline-rsa-pkcs1
        printf 'data-ciphers CHACHA20-POLY1305:AES-256-GCM\nping 10\nping-restart 60\n'
        block ca "$PKI/ca.crt"
        block cert "$d/rsa.crt"
        block key "$d/rsa.key"
        block tls-crypt "$OVPN_KEYS/tc.key"
    } >"$d/rsa.ovpn"
    stock_reference "$d/rsa.ovpn"
    import_profile rsa
    grep -q '^pkcs12 = "rsa.p12"' "$d/rsa.toml" || scen_fail "rsa.toml does not name the built rsa.p12"
    grep -q 'subject CN=client-rsa' "$d/check.log" || scen_fail "check does not show the RSA client certificate: $(tr '\n' ' ' <"$d/check.log")"
    run_imported rsa CHACHA20-POLY1305
    scen_pass "PKCS#1 RSA key built into rsa.p12; $IMPORT_NOTE; $RUN_NOTE"
}

scenario_inline_pkcs12() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    server_up cipher=AES-128-GCM
    cp "$PKI/p12.pass" "$SCEN_DIR/p12.pass"
    {
        profile_head inline-pkcs12
        printf 'askpass p12.pass\nverify-x509-name server name\nconnect-retry 1 4\ndata-ciphers AES-128-GCM\n'
        printf '<pkcs12>\n%s\n</pkcs12>\n' "$(openssl base64 -in "$PKI/client.p12")"
    } >"$SCEN_DIR/p12.ovpn"
    stock_reference "$SCEN_DIR/p12.ovpn"
    import_profile p12
    cmp -s "$PKI/client.p12" "$SCEN_DIR/p12.p12" || scen_fail "p12.p12 differs from the PKCS#12 in the profile"
    grep -q '^ca = "p12-ca.crt"' "$SCEN_DIR/p12.toml" || scen_fail "p12.toml does not name the CA taken out of the PKCS#12"
    grep -q '^password_file = "p12.pass"' "$SCEN_DIR/p12.toml" || scen_fail "p12.toml does not keep askpass as password_file"
    run_imported p12 AES-128-GCM
    scen_pass "CA taken out of the PKCS#12; $IMPORT_NOTE; $RUN_NOTE"
}

# ------------------------------------------------------------------ main

h_select "$@"

TOOLS=(ip ping ss "$OPENVPN" openssl stat cmp awk sed timeout)
if [[ -z ${TAPCLIENT:-} || -z ${PKI_DIR:-} ]]; then
    TOOLS+=(cargo)
fi
echo "import: prefix $LAB_PREFIX, logs in $LAB_TMP"
if ! h_preflight "${TOOLS[@]}"; then
    echo "preflight: the import lab also needs: apt-get install -y openvpn openssl" >&2
    h_fail_all "preflight failed (see above)" "${SELECTED[@]}"
else
    h_build_tapclient
    h_make_pki "$PKI" "$PW"
    if [[ -z $PKI_ERR ]] && ! PKI_ERR=$(ovpn_make_keys "$OVPN_KEYS" 2>&1); then
        PKI_ERR="tls-auth/tls-crypt keys: ${PKI_ERR:-unknown error}"
    fi
    h_run_selected
fi

h_summary import
