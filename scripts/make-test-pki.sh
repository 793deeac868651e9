#!/usr/bin/env bash
# make-test-pki.sh DIR IP... [--client NAME]... — a throw-away TLS PKI for the tests: libvirt's
# qemu+tls:// between vbatchd and its nodes, and vbatchd's TLS API with its relays.
#
# Why: vbatchd talks to its worker nodes over libvirt's mutual TLS (qemu+tls://, port
# 16514): each node proves itself with a server certificate whose subjectAltName is its
# IP, the daemon with a client certificate whose DN is "CN=vbatchd" (the nodes' libvirtd
# only admit the DNs in tls_allowed_dn_list). A CE host's `vbatch relay` talks to vbatchd's
# TLS API the same way: vbatchd proves itself with the server certificate of the address it
# listens on (any DIR/hosts/IP serves: serverAuth, subjectAltName IP), each relay with a
# client certificate CN=NAME (--client NAME). The tests (scripts/test-hosts.sh) need such a
# PKI, and also "wrong" certificates to check that each side refuses the other.
#
# Idempotent: every file that exists, still verifies and stays valid for 2 more days is
# kept; anything missing, expired soon, or no longer matching (e.g. after a new CA) is
# made anew. Keys are 0600. RSA 2048, SHA-256; CAs valid 90 days, leaves 30 days. Options
# and IPs may come in any order; what an earlier run made for other IPs or clients is kept.
#
# Layout (libvirt's own file names, so each client directory works as a `pkipath`):
#   DIR/ca/cacert.pem, cakey.pem            the test CA
#   DIR/hosts/IP/servercert.pem, serverkey.pem, cacert.pem (= the CA)
#                                           one per IP; subjectAltName=IP:IP, CN=IP,
#                                           extendedKeyUsage serverAuth: a libvirtd node's
#                                           or vbatchd's TLS API listener's identity
#   DIR/client/cacert.pem, clientcert.pem, clientkey.pem
#                                           CN=vbatchd signed by the CA: the daemon's pkipath
#   DIR/clients/NAME/cacert.pem (= the CA), clientcert.pem, clientkey.pem
#                                           one per --client NAME: CN=NAME, extendedKeyUsage
#                                           clientAuth, signed by the CA (a relay's identity)
#   DIR/rogue-ca/cacert.pem, cakey.pem      a second CA, unrelated to the first
#   DIR/rogue/cacert.pem (= rogue CA only), clientcert.pem, clientkey.pem (CN=vbatchd,
#                                           signed by the rogue CA): a foreign party that
#                                           neither trusts the nodes nor is trusted by them
#   DIR/rogue-client/cacert.pem (= CA + rogue CA), clientcert.pem, clientkey.pem (the
#                                           rogue CN=vbatchd): trusts the nodes, so the only
#                                           reason to fail is the node refusing the client
#   DIR/rogue-clients/NAME/cacert.pem (= the CA only), clientcert.pem, clientkey.pem
#                                           one per --client NAME: CN=NAME signed by the
#                                           rogue CA; trusts vbatchd's server certificate,
#                                           so the only reason to fail is vbatchd refusing it
#   DIR/rogue-server/IP/servercert.pem, serverkey.pem (signed by the rogue CA, SAN = first
#                                           IP), cacert.pem (= CA + rogue CA): a node with
#                                           this still trusts the daemon (and libvirtd
#                                           accepts its own certificate), so the only
#                                           reason to fail is the daemon refusing the node
# (libvirt checks at start that its own certificate verifies against its cacert.pem, on
# the client side as well as on the server side: hence the two-CA bundles.)
set -euo pipefail

usage() { echo "usage: $0 DIR IP... [--client NAME]..." >&2; exit 2; }
dir='' ips=() clients=()
while (($#)); do
    case $1 in
        --client)
            (($# >= 2)) || usage
            [[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] \
                || { echo "make-test-pki: --client: not a usable name (letters, digits, . _ -): $2" >&2; exit 2; }
            [[ " ${clients[*]} " == *" $2 "* ]] || clients+=("$2")
            shift 2 ;;
        -*) usage ;;
        *)
            if [[ -z $dir ]]; then
                dir=$1
            else
                [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || { echo "make-test-pki: not an IPv4 address: $1" >&2; exit 2; }
                [[ " ${ips[*]} " == *" $1 "* ]] || ips+=("$1")
            fi
            shift ;;
    esac
done
[[ -n $dir ]] && ((${#ips[@]})) || usage
command -v openssl >/dev/null || { echo "make-test-pki: openssl is missing (apt-get install openssl)" >&2; exit 1; }

ca_days=90 leaf_days=30
leaf_margin=$((2 * 86400))          # remake a leaf that expires within 2 days
ca_margin=$(((leaf_days + 1) * 86400))  # remake a CA that would not outlive a new leaf

umask 022
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d "$dir/.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT

cat > "$work/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

say() { echo "make-test-pki: $*" >&2; }

# key_matches CERT KEY: the certificate carries the key's public half.
key_matches() {
    [[ -s $1 && -s $2 ]] || return 1
    [[ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" == "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ]]
}

# put SRC DEST MODE: moves SRC over DEST (same directory tree, so atomic), with MODE.
put() { chmod "$3" "$1"; mv -f "$1" "$2"; }

# new_key FILE: a fresh RSA key, 0600 from the start.
new_key() { (umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null); }

# ensure_ca SUBDIR CN: DIR/SUBDIR/{cacert,cakey}.pem, kept while valid. Prints "new" on stdout
# when it made a new one (nothing else needs to know: leaves re-verify against it).
ensure_ca() {
    local d=$dir/$1 cn=$2
    mkdir -p "$d"
    if key_matches "$d/cacert.pem" "$d/cakey.pem" \
        && openssl x509 -in "$d/cacert.pem" -noout -checkend "$ca_margin" >/dev/null 2>&1 \
        && openssl verify -CAfile "$d/cacert.pem" "$d/cacert.pem" >/dev/null 2>&1; then
        return 0
    fi
    say "new CA $d ($cn)"
    new_key "$work/cakey.pem"
    openssl req -new -x509 -key "$work/cakey.pem" -subj "/O=vbatch test/CN=$cn" -days "$ca_days" \
        -sha256 -config "$work/openssl.cnf" -extensions v3_ca -out "$work/cacert.pem"
    put "$work/cakey.pem" "$d/cakey.pem" 0600
    put "$work/cacert.pem" "$d/cacert.pem" 0644
}

# leaf_ok CERT KEY CAFILE KIND WHAT: KIND server (WHAT = IP) or client (WHAT = CN).
leaf_ok() {
    local cert=$1 key=$2 ca=$3 kind=$4 what=$5
    key_matches "$cert" "$key" || return 1
    openssl x509 -in "$cert" -noout -checkend "$leaf_margin" >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$ca" "$cert" >/dev/null 2>&1 || return 1
    if [[ $kind == server ]]; then
        openssl x509 -in "$cert" -noout -ext subjectAltName 2>/dev/null | grep -qwF "IP Address:$what" || return 1
    else
        [[ "$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253 2>/dev/null)" == "subject=CN=$what" ]] || return 1
    fi
    [[ "$(stat -c %a "$key")" == 600 ]] || chmod 0600 "$key"
}

# ensure_leaf CASUBDIR OUTDIR KIND WHAT: OUTDIR/{server,client}{cert,key}.pem signed by the CA
# in DIR/CASUBDIR.
ensure_leaf() {
    local cadir=$dir/$1 out=$2 kind=$3 what=$4 subj ext
    local cert=$out/${kind}cert.pem key=$out/${kind}key.pem
    mkdir -p "$out"
    leaf_ok "$cert" "$key" "$cadir/cacert.pem" "$kind" "$what" && return 0
    say "new $kind certificate $cert ($what, CA $1)"
    if [[ $kind == server ]]; then
        subj="/O=vbatch test/CN=$what"
        cp "$work/openssl.cnf" "$work/ext.cnf"
        cat >> "$work/ext.cnf" <<EOF
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:$what
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
        ext=server
    else
        subj="/CN=$what"   # exactly the DN "CN=vbatchd" that tls_allowed_dn_list names
        cp "$work/openssl.cnf" "$work/ext.cnf"
        ext=client
    fi
    new_key "$work/leafkey.pem"
    openssl req -new -key "$work/leafkey.pem" -subj "$subj" -config "$work/ext.cnf" -out "$work/leaf.csr"
    openssl x509 -req -in "$work/leaf.csr" -CA "$cadir/cacert.pem" -CAkey "$cadir/cakey.pem" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$leaf_days" -sha256 \
        -extfile "$work/ext.cnf" -extensions "$ext" -out "$work/leafcert.pem" 2>/dev/null
    put "$work/leafkey.pem" "$key" 0600
    put "$work/leafcert.pem" "$cert" 0644
}

# ensure_copy MODE DEST SRC...: DEST (mode MODE) is the concatenation of SRC..., rewritten
# only when it differs.
ensure_copy() {
    local mode=$1 dest=$2; shift 2
    (umask 077; cat "$@" > "$work/copy.pem")
    if cmp -s "$work/copy.pem" "$dest"; then rm -f "$work/copy.pem"; chmod "$mode" "$dest"; else put "$work/copy.pem" "$dest" "$mode"; fi
}

ensure_ca ca "vbatch test CA"
ensure_ca rogue-ca "vbatch rogue CA"
good=$dir/ca/cacert.pem rogue=$dir/rogue-ca/cacert.pem

for ip in "${ips[@]}"; do
    ensure_leaf ca "$dir/hosts/$ip" server "$ip"
    ensure_copy 0644 "$dir/hosts/$ip/cacert.pem" "$good"
done

ensure_leaf ca "$dir/client" client vbatchd
ensure_copy 0644 "$dir/client/cacert.pem" "$good"

ensure_leaf rogue-ca "$dir/rogue" client vbatchd
ensure_copy 0644 "$dir/rogue/cacert.pem" "$rogue"

mkdir -p "$dir/rogue-client"
ensure_copy 0644 "$dir/rogue-client/clientcert.pem" "$dir/rogue/clientcert.pem"
ensure_copy 0600 "$dir/rogue-client/clientkey.pem" "$dir/rogue/clientkey.pem"
ensure_copy 0644 "$dir/rogue-client/cacert.pem" "$good" "$rogue"

for name in "${clients[@]}"; do
    ensure_leaf ca "$dir/clients/$name" client "$name"
    ensure_copy 0644 "$dir/clients/$name/cacert.pem" "$good"
    ensure_leaf rogue-ca "$dir/rogue-clients/$name" client "$name"
    ensure_copy 0644 "$dir/rogue-clients/$name/cacert.pem" "$good"
done

ensure_leaf rogue-ca "$dir/rogue-server/${ips[0]}" server "${ips[0]}"
ensure_copy 0644 "$dir/rogue-server/${ips[0]}/cacert.pem" "$good" "$rogue"

say "PKI ready in $dir (daemon pkipath: $dir/client)"
