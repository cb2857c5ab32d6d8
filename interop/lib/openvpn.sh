# shellcheck shell=bash
# Globals set here are read by the sourcing scripts:
# shellcheck disable=SC2034
# A stock OpenVPN 2.6 TAP server (and the stock client as the baseline) in the namespace lab.
# Source after netns.sh; defines functions only.
#
# The server runs in ${SRV_NS}, listens on 198.18.0.1:1194 (TCP), owns tap0 10.99.0.1/24 and
# pushes 10.99.0.2/24 to the first client. It runs in the foreground through lab_start (never
# `daemon`), so the lab owns its PID and stops it like any other process. Configs are rendered
# from interop/openvpn/*.conf.in; see ovpn_render for the variant syntax.
#
# Required before use: LAB_TMP, and OVPN_PKI = a directory made by lab_make_pki (plus the keys
# from ovpn_make_keys, by default in the same directory: OVPN_KEYS).
# Optional: OVPN_SERVER_VERB (default 4), OPENVPN (default: openvpn from PATH).

OPENVPN=${OPENVPN:-openvpn}
OVPN_PORT=1194
OVPN_NET=10.99.0.0
OVPN_SRV_IP=10.99.0.1
OVPN_CLI_IP=10.99.0.2
OVPN_SRV_TAP=tap0         # the server's TAP, in $SRV_NS
OVPN_STOCK_TAP=tap0       # the stock client's TAP, in $CLI_NS
OVPN_ROUTE_NET=10.77.0.0  # pushed by the `route` variant
OVPN_ROUTE_MASK=255.255.255.0
OVPN_ROUTE_CIDR=10.77.0.0/24
OVPN_SERVER_VERB=${OVPN_SERVER_VERB:-4}
OVPN_TEMPLATES=$(cd "$LAB_LIB_DIR/../openvpn" && pwd)

OVPN_SERVER_PID=''   # set by ovpn_start_server
OVPN_SERVER_LOG=''
OVPN_CLIENT_PID=''   # set by ovpn_start_stock_client
OVPN_CLIENT_LOG=''

# Server log lines that mean the peer's options or framing do not match the server's. The OCC
# option-string warnings ("'x' is used inconsistently", "is present in local/remote config but
# missing") are logged at verb >= 7 only (D_SHOW_OCC); the others at any verb.
OVPN_OPTION_PROBLEMS="is used inconsistently|is present in (local|remote) config but missing|OPTIONS IMPORT: .*(error|fail|WARNING)|Options error|Bad compression|Bad LZO|No common cipher|no shared cipher|[Cc]ompression .*(not allowed|refused|unsupported)"
# Server log lines that mean the client's data or control packets were not accepted.
OVPN_PACKET_PROBLEMS="Authenticate/Decrypt packet error|AEAD Decrypt error|packet HMAC authentication failed|TLS Error|tls-crypt unwrapping failed|TLS_ERROR|Fatal decryption error|bad packet ID|packet replay|Unroutable|received packet from .* with unknown key_id|MULTI: bad source address"

# ---------------------------------------------------------------- keys

# ovpn_make_keys DIR — ta.key (tls-auth), tc.key (tls-crypt) and ta-tampered.key: ta.key with one
# hex digit changed in the client->server HMAC key (static key bytes 192..211, which a client
# with key-direction 1 signs with), so the server cannot authenticate anything the client sends.
# Logs to DIR/keys.log. Returns 1 with a reason on stderr.
ovpn_make_keys() {
    local dir=$1
    mkdir -p "$dir"
    if ! "$OPENVPN" --genkey secret "$dir/ta.key" >>"$dir/keys.log" 2>&1 ||
        ! "$OPENVPN" --genkey tls-crypt "$dir/tc.key" >>"$dir/keys.log" 2>&1; then
        echo "openvpn --genkey failed: $(tail -n 2 "$dir/keys.log" | tr '\n' ' ')" >&2
        return 1
    fi
    # The key body is 16 lines of 32 hex digits (16 bytes each): byte 192 starts body line 12
    # (0-based). Flip its first digit to a different one.
    awk '
        /^-----BEGIN/ { body = 1; n = 0; print; next }
        /^-----END/   { body = 0; print; next }
        body {
            if (n == 12) {
                c = substr($0, 1, 1)
                r = (c == "0") ? "1" : "0"
                $0 = r substr($0, 2)
            }
            n++
        }
        { print }
    ' "$dir/ta.key" >"$dir/ta-tampered.key"
    chmod 600 "$dir/ta.key" "$dir/tc.key" "$dir/ta-tampered.key"
    local diff
    # cmp exits 1 when the files differ, which they must: keep pipefail from ending the caller.
    diff=$( (cmp -l "$dir/ta.key" "$dir/ta-tampered.key" 2>/dev/null || true) | wc -l)
    if [[ $diff != 1 ]]; then
        echo "ta-tampered.key differs from ta.key in $diff bytes (expected exactly 1)" >&2
        return 1
    fi
}

# ---------------------------------------------------------------- configs

# ovpn_render TEMPLATE OUT "VARIANT..." KEY=VALUE... — copy TEMPLATE to OUT, uncommenting the
# "#[variant] " lines of the selected variants, dropping the other "#[...]" lines, and replacing
# every @KEY@. Fails if a placeholder is left.
ovpn_render() {
    local tmpl=$1 out=$2 variants=$3 v kv key val script=''
    shift 3
    for v in $variants; do
        script+="s/^#\\[${v}\\] //;"
    done
    script+='/^#\[[a-z0-9-]*\] /d;'
    for kv in "$@"; do
        key=${kv%%=*}
        val=${kv#*=}
        val=${val//\\/\\\\}
        val=${val//|/\\|}
        val=${val//&/\\&}
        script+="s|@${key}@|${val}|g;"
    done
    sed -e "$script" "$tmpl" >"$out"
    if grep -n '@[A-Z_]*@' "$out" >&2; then
        echo "ovpn_render: unreplaced placeholders in $out (from $tmpl)" >&2
        return 1
    fi
}

# ovpn_parse_variants VARIANT... — sets OV_FLAGS (the plain variant words), OV_CIPHER, OV_AUTH,
# OV_RENEG, OV_CERT, OV_VERB, OV_P12 from words such as:
#   tls-auth | tls-crypt | cipher=AES-128-GCM | cbc=AES-256-CBC | auth=SHA256 | comp-lzo-no |
#   reneg=10 | route | noeku | verb=7 | p12=client-legacy.p12
# (`cipher=` forces the server's cipher only; `cbc=` and `auth=` go into the stock client's config
# too, since a stock 2.6 client offers no CBC cipher by default.)
ovpn_parse_variants() {
    local w
    OV_FLAGS='' OV_CIPHER='' OV_AUTH=SHA1 OV_RENEG=3600 OV_CERT=server OV_VERB=$OVPN_SERVER_VERB OV_P12=client.p12
    for w in "$@"; do
        case $w in
            tls-auth | tls-crypt | comp-lzo-no | route) OV_FLAGS+=" $w" ;;
            cipher=*) OV_FLAGS+=' cipher' OV_CIPHER=${w#cipher=} ;;
            cbc=*) OV_FLAGS+=' cbc' OV_CIPHER=${w#cbc=} ;;
            auth=*) OV_FLAGS+=' auth' OV_AUTH=${w#auth=} ;;
            reneg=*) OV_FLAGS+=' reneg' OV_RENEG=${w#reneg=} ;;
            noeku) OV_CERT=server-noeku ;;
            verb=*) OV_VERB=${w#verb=} ;;
            p12=*) OV_P12=${w#p12=} ;;
            *)
                echo "ovpn: unknown variant '$w'" >&2
                return 1
                ;;
        esac
    done
}

# ovpn_server_conf DIR NAME [VARIANT...] — writes DIR/NAME.conf (log DIR/NAME.log, pid
# DIR/NAME.pid, status DIR/NAME-status.txt, management socket DIR/NAME-mgmt.sock).
ovpn_server_conf() {
    local dir=$1 name=$2
    shift 2
    ovpn_parse_variants "$@" || return 1
    ovpn_render "$OVPN_TEMPLATES/server.conf.in" "$dir/$name.conf" "$OV_FLAGS" \
        "SRV_UNDERLAY=$SRV_UNDERLAY" "PORT=$OVPN_PORT" "TAP=$OVPN_SRV_TAP" "PKI=$OVPN_PKI" \
        "KEYS=${OVPN_KEYS:-$OVPN_PKI}" "CERT=$OV_CERT" "NET=$OVPN_NET" "VERB=$OV_VERB" \
        "LOG=$dir/$name.log" "PIDFILE=$dir/$name.pid" "STATUS=$dir/$name-status.txt" \
        "MGMT=$dir/$name-mgmt.sock" "CIPHER=$OV_CIPHER" "AUTH=$OV_AUTH" "RENEG_SEC=$OV_RENEG" "ROUTE_NET=$OVPN_ROUTE_NET" \
        "ROUTE_MASK=$OVPN_ROUTE_MASK"
}

# ovpn_client_conf DIR NAME [VARIANT...] — the stock client's config DIR/NAME.conf.
ovpn_client_conf() {
    local dir=$1 name=$2
    shift 2
    ovpn_parse_variants "$@" || return 1
    ovpn_render "$OVPN_TEMPLATES/client.conf.in" "$dir/$name.conf" "$OV_FLAGS" \
        "SRV_UNDERLAY=$SRV_UNDERLAY" "PORT=$OVPN_PORT" "TAP=$OVPN_STOCK_TAP" "PKI=$OVPN_PKI" \
        "KEYS=${OVPN_KEYS:-$OVPN_PKI}" "P12=$OV_P12" "VERB=$OV_VERB" \
        "LOG=$dir/$name.log" "PIDFILE=$dir/$name.pid" "CIPHER=$OV_CIPHER" "AUTH=$OV_AUTH"
}

# ---------------------------------------------------------------- processes

# ovpn_wait_log PID LOG PATTERN TIMEOUT_S — until LOG matches PATTERN (grep -E). 1 on timeout or
# when PID has exited.
ovpn_wait_log() {
    local pid=$1 log=$2 pattern=$3 deadline=$(($(lab_now_ms) + $4 * 1000))
    until grep -qE -- "$pattern" "$log" 2>/dev/null; do
        if (($(lab_now_ms) >= deadline)) || ! lab_alive "$pid"; then
            return 1
        fi
        sleep 0.2
    done
}

# ovpn_start_server DIR NAME [VARIANT...] — render DIR/NAME.conf and run openvpn in the server
# namespace (stdout/stderr before the log opens: DIR/NAME-stdout.log). Waits until it listens
# and logs "Initialization Sequence Completed". Sets OVPN_SERVER_PID, OVPN_SERVER_LOG.
# OVPN_CONF_RENDER names the function that writes the config (default ovpn_server_conf).
ovpn_start_server() {
    local dir=$1 name=$2
    shift 2
    "${OVPN_CONF_RENDER:-ovpn_server_conf}" "$dir" "$name" "$@" || return 1
    OVPN_SERVER_LOG=$dir/$name.log
    lab_start "$SRV_NS" "$dir/$name-stdout.log" "$OPENVPN" --config "$dir/$name.conf"
    OVPN_SERVER_PID=$LAB_PID
    if ! ovpn_wait_log "$OVPN_SERVER_PID" "$OVPN_SERVER_LOG" 'Initialization Sequence Completed' 20; then
        echo "openvpn server ($name) did not complete its initialisation within 20 s$(lab_alive "$OVPN_SERVER_PID" || echo ' (it exited)'): $(tail -n 3 "$OVPN_SERVER_LOG" "$dir/$name-stdout.log" 2>/dev/null | tr '\n' ' ')" >&2
        return 1
    fi
    if ! lab_wait_until 10 lab_listening "$SRV_NS" "$OVPN_PORT"; then
        echo "openvpn server ($name): nothing listening on $SRV_UNDERLAY:$OVPN_PORT within 10 s" >&2
        return 1
    fi
}

# ovpn_start_stock_client DIR NAME [VARIANT...] — the stock client in the client namespace;
# waits up to 30 s for "Initialization Sequence Completed". Sets OVPN_CLIENT_PID, OVPN_CLIENT_LOG.
ovpn_start_stock_client() {
    local dir=$1 name=$2
    shift 2
    ovpn_client_conf "$dir" "$name" "$@" || return 1
    OVPN_CLIENT_LOG=$dir/$name.log
    lab_start "$CLI_NS" "$dir/$name-stdout.log" "$OPENVPN" --config "$dir/$name.conf"
    OVPN_CLIENT_PID=$LAB_PID
    if ! ovpn_wait_log "$OVPN_CLIENT_PID" "$OVPN_CLIENT_LOG" 'Initialization Sequence Completed' 30; then
        echo "stock openvpn client did not connect within 30 s$(lab_alive "$OVPN_CLIENT_PID" || echo ' (it exited)'): $(tail -n 3 "$OVPN_CLIENT_LOG" "$dir/$name-stdout.log" 2>/dev/null | tr '\n' ' ')" >&2
        return 1
    fi
}

# ---------------------------------------------------------------- server log readers

# ovpn_strip_prefix — log lines on stdin without the timestamp and peer prefix (so lines about
# different connections compare equal).
ovpn_strip_prefix() { sed -E 's/^[0-9-]+ [0-9:]+( us=[0-9]+)? //; s/^([A-Za-z0-9_.-]+\/)?[0-9.]+:[0-9]+ //'; }

# ovpn_option_problems LOG [FROM_LINE] — the distinct lines matching OVPN_OPTION_PROBLEMS (from
# line FROM_LINE on), prefix stripped.
ovpn_option_problems() {
    tail -n "+${2:-1}" "$1" 2>/dev/null | { grep -E -- "$OVPN_OPTION_PROBLEMS" || true; } |
        ovpn_strip_prefix | sort -u
}

# ovpn_packet_problems LOG [FROM_LINE] — the first lines matching OVPN_PACKET_PROBLEMS.
ovpn_packet_problems() {
    tail -n "+${2:-1}" "$1" 2>/dev/null | { grep -E -- "$OVPN_PACKET_PROBLEMS" || true; } |
        ovpn_strip_prefix | head -n 5
}

# ovpn_from LOG [FROM_LINE] — LOG from line FROM_LINE on (default: all of it).
ovpn_from() { tail -n "+${2:-1}" "$1" 2>/dev/null || true; }

# ovpn_data_ciphers LOG [FROM_LINE] — the data ciphers the server installed keys for,
# de-duplicated, space separated (e.g. "AES-256-GCM").
ovpn_data_ciphers() {
    ovpn_from "$@" | { grep -oE "Incoming Data Channel: Cipher '[^']+'" || true; } |
        sed -E "s/.*'([^']+)'/\1/" | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# ovpn_push_reply LOG [FROM_LINE] — the last PUSH_REPLY the server sent.
ovpn_push_reply() {
    ovpn_from "$@" | { grep -oE "PUSH_REPLY,[^']*" || true; } | tail -n 1
}

# ovpn_peer_info LOG [FROM_LINE] — the client's peer-info as the server logged it (IV_x=y ...).
ovpn_peer_info() {
    ovpn_from "$@" | { grep -oE 'peer info: IV_[A-Z0-9_]+=[^ ]*' || true; } | sed 's/peer info: //' |
        tr '\n' ' ' | sed 's/ $//'
}

# ovpn_learned_macs LOG [FROM_LINE] — MACs the server learned for its client ("MULTI: Learn:").
ovpn_learned_macs() {
    ovpn_from "$@" | { grep -oE 'MULTI: Learn: ([0-9a-f]{2}:){5}[0-9a-f]{2}' || true; } |
        awk '{print $3}' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# ovpn_count_keys LOG [FROM_LINE] — data-channel keys the server installed (one per TLS
# session: the first plus one per completed renegotiation).
ovpn_count_keys() {
    ovpn_from "$@" | grep -cE 'Incoming Data Channel: Cipher' || true
}

# ovpn_count_soft_resets LOG [FROM_LINE] — renegotiations the server started.
ovpn_count_soft_resets() {
    ovpn_from "$@" | grep -cE 'TLS: soft reset' || true
}

# ---------------------------------------------------------------- management

# ovpn_mgmt SOCK COMMAND — one command on the server's management socket (a unix socket: no
# network is involved); prints the SUCCESS/ERROR line. 1 if it fails.
ovpn_mgmt() {
    timeout 10 "$PYTHON" - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("rwb", buffering=0)
f.readline()  # >INFO:OpenVPN Management Interface ...
s.sendall(sys.argv[2].encode() + b"\n")
while True:
    line = f.readline()
    if not line:
        sys.exit("management: connection closed")
    line = line.decode(errors="replace").strip()
    if line.startswith("SUCCESS:") or line.startswith("ERROR:"):
        print(line)
        s.sendall(b"exit\n")
        sys.exit(0 if line.startswith("SUCCESS:") else 1)
PY
}

# ovpn_set_verb DIR NAME LEVEL — change the running server's verbosity.
ovpn_set_verb() {
    ovpn_mgmt "$1/$2-mgmt.sock" "verb $3" >/dev/null
}
