#!/usr/bin/env bash
# Test PKI for the container scenarios: tapclient-certs output plus the OpenVPN static keys.
#
#   interop/containers/make-pki.sh [DIR]      (default: interop/containers/pki)
#
# DIR gets ca.crt, server.crt/.key, client.p12, client.pass (tapclient-certs, see certs/README.md;
# server CN "server", SANs 127.0.0.1 and ::1 so a native client can use a published port) and
# ta.key (tls-auth) and tc.key (tls-crypt): 2048-bit "OpenVPN Static key V1" files, the format
# of `openvpn --genkey secret` / `openvpn --genkey tls-crypt`. The compose file mounts DIR at /pki
# (TAPCLIENT_PKI=DIR when it is not the default). Test material only; never commit it.
# Runs on Linux and macOS (bash 3.2). Needs cargo (or TAPCLIENT_CERTS=path to the binary) and
# openssl or python3.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${1:-$HERE/pki}
PASSWORD=${PKI_PASSWORD:-tapclient-test}

mkdir -p "$DIR"
chmod 700 "$DIR"
if [[ -n ${TAPCLIENT_CERTS:-} ]]; then
    "$TAPCLIENT_CERTS" --out "$DIR" --password "$PASSWORD"
else
    (cd "$ROOT" && cargo run -q --release -p tapclient-certs -- --out "$DIR" --password "$PASSWORD")
fi

random_hex() { # 256 random bytes as 512 hex digits on one line
    if command -v openssl >/dev/null 2>&1; then
        openssl rand -hex 256
    else
        python3 -c 'import secrets; print(secrets.token_hex(256))'
    fi
}

static_key() { # FILE: an OpenVPN static key (16 lines of 32 hex digits)
    local hex
    hex=$(random_hex | tr -d '\n')
    if [[ ${#hex} != 512 ]]; then
        echo "make-pki: could not make 256 random bytes" >&2
        return 1
    fi
    {
        echo "#"
        echo "# 2048 bit OpenVPN static key"
        echo "#"
        echo "-----BEGIN OpenVPN Static key V1-----"
        echo "$hex" | fold -w 32
        echo "-----END OpenVPN Static key V1-----"
    } >"$1"
    chmod 600 "$1"
}

static_key "$DIR/ta.key"
static_key "$DIR/tc.key"
for f in ca.crt server.crt server.key client.p12 client.pass ta.key tc.key; do
    if [[ ! -s $DIR/$f ]]; then
        echo "make-pki: $DIR/$f is missing" >&2
        exit 1
    fi
done
echo "make-pki: test PKI in $DIR"
