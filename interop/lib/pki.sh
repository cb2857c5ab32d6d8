# shellcheck shell=bash
# Test PKI for the lab. Source after netns.sh.
#
# lab_make_pki DIR PASSWORD REPO_ROOT — fills DIR with the PKI from the project's generator
# (`cargo run -p tapclient-certs -- --out DIR --password PW`), or copies $PKI_DIR if set (files
# made with the same PASSWORD), then adds what the lab needs on top:
#   client-legacy.p12   openssl pkcs12 -export -legacy (RC2-40/3DES/SHA-1 MAC) of client.crt/.key
#   other-client.pem    key + cert out of other-client.p12 (for the python probe)
#   p12.pass            the right password; wrong.pass a wrong one
# Logs to DIR/pki.log. Returns 1 (reason on stderr) if a required file is missing.
lab_make_pki() {
    local dir=$1 pw=$2 root=$3 f
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [[ -n ${PKI_DIR:-} ]]; then
        cp -a "$PKI_DIR"/. "$dir"/
    elif ! (cd "$root" && cargo run -q -p tapclient-certs -- --out "$dir" --password "$pw") >"$dir/pki.log" 2>&1; then
        echo "PKI: tapclient-certs failed (see $dir/pki.log): $(tail -n 3 "$dir/pki.log" | tr '\n' ' ')" >&2
        return 1
    fi
    for f in ca.crt server.crt server.key client.crt client.key client.p12 other-ca.crt other-client.p12; do
        if [[ ! -s $dir/$f ]]; then
            echo "PKI: $f missing from $dir (generator output: $(cd "$dir" && printf '%s ' *))" >&2
            return 1
        fi
    done
    printf '%s\n' "$pw" >"$dir/p12.pass"
    printf '%s\n' "not-$pw" >"$dir/wrong.pass"
    chmod 600 "$dir/p12.pass" "$dir/wrong.pass"
    # The client key may or may not be encrypted with the same password: -passin covers both.
    if ! openssl pkcs12 -export -legacy -in "$dir/client.crt" -inkey "$dir/client.key" \
        -passin "pass:$pw" -passout "pass:$pw" -name client \
        -out "$dir/client-legacy.p12" >>"$dir/pki.log" 2>&1; then
        echo "PKI: openssl pkcs12 -export -legacy failed (see $dir/pki.log)" >&2
        return 1
    fi
    if ! openssl pkcs12 -in "$dir/other-client.p12" -passin "pass:$pw" -nodes \
        -out "$dir/other-client.pem" >>"$dir/pki.log" 2>&1 &&
        ! openssl pkcs12 -legacy -in "$dir/other-client.p12" -passin "pass:$pw" -nodes \
            -out "$dir/other-client.pem" >>"$dir/pki.log" 2>&1; then
        echo "PKI: cannot read other-client.p12 with openssl (see $dir/pki.log)" >&2
        return 1
    fi
    # An unencrypted copy of the client key for the python probe.
    if ! openssl pkey -in "$dir/client.key" -passin "pass:$pw" -out "$dir/client-plain.key" >>"$dir/pki.log" 2>&1; then
        echo "PKI: cannot read client.key with openssl (see $dir/pki.log)" >&2
        return 1
    fi
}
