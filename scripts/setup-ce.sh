#!/usr/bin/env bash
# setup-ce.sh — makes a grid CE host (HTCondor-CE, ARC CE) talk to a remote vbatchd. Run it
# on the CE host, as root: it installs vbatch, the PBS commands (qsub, qstat, …) and the BLAH
# scripts (through scripts/install-ce-commands.sh), gives `vbatch relay` its TLS identity, and
# starts, stops or checks the relay.
#
# The relay serves vbatchd's usual Unix socket on this host (/run/vbatch/vbatchd.sock, mode
# 0666), so the CE's commands work as beside a local vbatchd: it takes each caller's uid from
# the socket (SO_PEERCRED), resolves it to a user name in this host's account database, and
# forwards the request over mutual TLS to vbatchd's API, asserting that name. vbatchd takes
# it only from a relay whose certificate the site CA signed and whose CN its site file lists
# under `[api] relays`; the pool accounts (atlas001…) need not exist on vbatchd's host.
#
# Usage: setup-ce.sh [options] [--start | --stop | --status]
#   (no action)            install and configure, idempotently: run it again after a rebuild
#                          or to change one setting (what is not given is kept from relay.env)
#   --start                install and configure first if options are given; then start the
#                          relay in the background (setsid; pid file /run/vbatch/relay.pid,
#                          log /var/log/vbatch-relay.log) and wait up to 10 s for its socket.
#                          A running relay is left alone, or restarted if its configuration
#                          or binaries changed
#   --stop                 stops the relay (SIGTERM; SIGKILL after 10 s)
#   --status               says whether the relay runs; exit 0 if it does, 3 if not
# Options:
#   --server HOST:PORT     vbatchd's TLS API (needed the first time)
#   --ca FILE              the site CA: it signed vbatchd's certificate and the relay's
#   --certificate FILE --key FILE
#                          the relay's certificate (extendedKeyUsage clientAuth) and its
#                          unencrypted key
#   --make-certificate --ca-key FILE [--name CN]
#                          or make the relay a key and a certificate, signed by --ca with
#                          --ca-key (openssl): CN = --name, default `hostname -f`;
#                          clientAuth; valid 1 year; kept by later runs while it stays valid
#                          for 30 more days. Prints the CN to list in vbatchd's site file
#   --prefix DIR           vbatch, vbatch-relay and the PBS commands go to DIR/bin
#                          (default /usr/local)
#   --vbatch PATH          the vbatch binary to install, vbatch-relay taken from the same
#                          directory (default: the newest build of this checkout, else the
#                          one installed in DIR/bin, else `vbatch` on PATH)
#   --blah-dir DIR         where the BLAH scripts go (default /usr/libexec/blahp if BLAH is
#                          installed, else PREFIX/libexec/vbatch/blah)
#   --no-blah-config       leave blah.config alone (else: vbatch added to supported_lrms,
#                          vbatch_binpath set, see install-ce-commands.sh)
#   --socket PATH          the socket the relay serves (default /run/vbatch/vbatchd.sock;
#                          another one must be given to the commands as $VBATCH_SOCKET or
#                          blah.config's vbatch_socket)
#   --connections N        passed to the relay (at most N connections to vbatchd at a time)
#   --config-dir DIR       where relay.env and relay/ are (default /etc/vbatch)
#   -h, --help             this text
#
# Files: CONFIG/relay/cacert.pem, relaycert.pem, relaykey.pem (0600), copies of the CA, the
# certificate and the key; CONFIG/relay.env, what --start, --stop and --status read
# (KEY="VALUE" lines: VBATCH_RELAY_SERVER, _SOCKET, _CA, _CERTIFICATE, _KEY, _CONNECTIONS,
# _PREFIX, _BIN, _BLAH_DIR, _BLAH_CONFIG). See docs/grid-ce.md.
#
# Example: setup-ce.sh --server vbatch.example.org:8443 --ca /etc/grid-security/site-ca.pem \
#              --certificate ce1.pem --key ce1.key --start
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
pid_file=/run/vbatch/relay.pid
log_file=/var/log/vbatch-relay.log
default_socket=/run/vbatch/vbatchd.sock

die() { echo "setup-ce: error: $*" >&2; exit 1; }
say() { echo "setup-ce: $*"; }
warn() { echo "setup-ce: warning: $*" >&2; }
usage_error() { echo "setup-ce: $* (see --help)" >&2; exit 2; }

# --- options ----------------------------------------------------------------------------
action=install configured=0
server='' ca='' cert='' key='' make_cert=0 ca_key='' name='' prefix='' vbatch='' blah_dir=''
blah_config=yes socket='' connections='' config_dir=/etc/vbatch
need_arg() { if (($# < 2)) || [[ -z $2 ]]; then usage_error "$1 needs a value"; fi; }
set_action() { [[ $action == install ]] || usage_error "give one of --start, --stop, --status"; action=$1; }
while (($#)); do
    case $1 in
        --server) need_arg "$@"; server=$2; configured=1; shift 2 ;;
        --ca) need_arg "$@"; ca=$2; configured=1; shift 2 ;;
        --certificate|--cert) need_arg "$@"; cert=$2; configured=1; shift 2 ;;
        --key) need_arg "$@"; key=$2; configured=1; shift 2 ;;
        --make-certificate) make_cert=1; configured=1; shift ;;
        --ca-key) need_arg "$@"; ca_key=$2; configured=1; shift 2 ;;
        --name) need_arg "$@"; name=$2; configured=1; shift 2 ;;
        --prefix) need_arg "$@"; prefix=$2; configured=1; shift 2 ;;
        --vbatch) need_arg "$@"; vbatch=$2; configured=1; shift 2 ;;
        --blah-dir) need_arg "$@"; blah_dir=$2; configured=1; shift 2 ;;
        --no-blah-config) blah_config=no; configured=1; shift ;;
        --socket) need_arg "$@"; socket=$2; configured=1; shift 2 ;;
        --connections) need_arg "$@"; connections=$2; configured=1; shift 2 ;;
        --config-dir) need_arg "$@"; config_dir=$2; shift 2 ;;
        --start) set_action start; shift ;;
        --stop) set_action stop; shift ;;
        --status) set_action status; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) usage_error "unknown option $1" ;;
    esac
done
if [[ $action == stop || $action == status ]] && ((configured)); then
    usage_error "--$action takes no other option than --config-dir"
fi
((make_cert)) && [[ -n $cert || -n $key ]] && usage_error "give --certificate and --key, or --make-certificate, not both"
((make_cert)) || [[ -z $ca_key && -z $name ]] || usage_error "--ca-key and --name go with --make-certificate"
[[ -n $cert && -z $key || -z $cert && -n $key ]] && usage_error "--certificate and --key go together"
[[ -z $connections || $connections =~ ^[1-9][0-9]{0,4}$ ]] || usage_error "--connections: not a positive number: $connections"
[[ $config_dir == /* ]] || config_dir=$(pwd)/$config_dir
config_arg=''; [[ $config_dir == /etc/vbatch ]] || config_arg=" --config-dir $config_dir"
env_file=$config_dir/relay.env
relay_dir=$config_dir/relay

# --- relay.env --------------------------------------------------------------------------
declare -A recorded=()
read_env() { # fills `recorded` from relay.env, if there is one
    local line k v
    [[ -f $env_file ]] || return 1
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^(VBATCH_RELAY_[A-Z_]+)=\"([^\"]*)\"$ ]] || continue
        k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
        recorded[$k]=$v
    done < "$env_file"
}
read_env || true
rec() { echo "${recorded[VBATCH_RELAY_$1]:-}"; }

# --- processes --------------------------------------------------------------------------
# alive PID: running (a zombie counts as gone).
alive() {
    local st
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }; [[ ${st%% *} != [ZX] ]]
}
# relay_pid: the running relay's pid (from the pid file, checked to be vbatch's), or nothing.
relay_pid() {
    local p comm
    p=$(cat "$pid_file" 2>/dev/null || true)
    alive "$p" || return 0
    comm=$(cat "/proc/$p/comm" 2>/dev/null || true)
    [[ $comm == vbatch* ]] && echo "$p"
    return 0
}
# socket_in_use PATH: some process has a socket bound at PATH (in this network namespace).
socket_in_use() { awk -v p="$1" '$NF == p {found = 1} END {exit !found}' /proc/net/unix 2>/dev/null; }
wait_gone() { # PID TENTHS
    local i
    for ((i = 0; i < $2; i++)); do alive "$1" || return 0; sleep 0.1; done
    ! alive "$1"
}

# --- certificates -----------------------------------------------------------------------
need_file() { [[ -f $2 && -r $2 ]] || die "$1: no such file or not readable: $2"; }
is_cert() { openssl x509 -in "$1" -noout 2>/dev/null; }
pubkey_of_cert() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
pubkey_of_key() { openssl pkey -in "$1" -pubout -passin pass: 2>/dev/null; }
cn_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 2>/dev/null | sed -n 's/^subject=\(.*,\)\{0,1\}CN=\([^,]*\).*/\2/p'; }

# check_identity CA CERT KEY: one clear line and exit 1 for the first thing that is wrong.
check_identity() {
    local ca=$1 cert=$2 key=$3 out
    is_cert "$ca" || die "$ca: not a PEM certificate (the CA)"
    is_cert "$cert" || die "$cert: not a PEM certificate"
    openssl pkey -in "$key" -noout -passin pass: >/dev/null 2>&1 \
        || die "$key: not a private key, or an encrypted one (the relay needs it unencrypted)"
    [[ "$(pubkey_of_cert "$cert")" == "$(pubkey_of_key "$key")" ]] \
        || die "$key does not match the certificate $cert (their public keys differ)"
    out=$(openssl verify -CAfile "$ca" -untrusted "$cert" "$cert" 2>&1) \
        || die "$cert is not signed by the CA $ca: $(grep -m1 -i 'error' <<< "$out" || echo "$out" | tail -1)"
    openssl verify -purpose sslclient -CAfile "$ca" -untrusted "$cert" "$cert" >/dev/null 2>&1 \
        || die "$cert is not for TLS clients (its extendedKeyUsage lacks clientAuth)"
    openssl x509 -in "$cert" -noout -checkend 0 >/dev/null 2>&1 \
        || die "$cert has expired ($(openssl x509 -in "$cert" -noout -enddate | cut -d= -f2))"
    openssl x509 -in "$cert" -noout -checkend $((14 * 86400)) >/dev/null 2>&1 \
        || warn "$cert expires within 14 days ($(openssl x509 -in "$cert" -noout -enddate | cut -d= -f2))"
    [[ -n "$(cn_of "$cert")" ]] || die "$cert has no CN: vbatchd names relays by their certificate's CN"
}

# copy_in SRC DEST MODE: DEST (in relay/) becomes SRC, rewritten only if it differs.
copy_in() {
    if [[ $(readlink -f "$1") == $(readlink -f "$2") ]]; then chmod "$3" "$2"; return 0; fi
    if [[ -f $2 ]] && cmp -s "$1" "$2"; then chmod "$3" "$2"; return 0; fi
    (umask 077; cp "$1" "$2.new")
    chmod "$3" "$2.new"
    mv -f "$2.new" "$2"
    say "installed $2"
    changed=1
}

# make_certificate CA CAKEY CN: relay/relaykey.pem and relaycert.pem, signed by the CA (kept if
# the ones there have that CN, verify against the CA and stay valid for 30 more days).
make_certificate() {
    local ca=$1 cakey=$2 cn=$3 work c=$relay_dir/relaycert.pem k=$relay_dir/relaykey.pem
    if [[ -f $c && -f $k ]] && [[ "$(cn_of "$c")" == "$cn" ]] \
        && [[ "$(pubkey_of_cert "$c")" == "$(pubkey_of_key "$k")" ]] \
        && openssl verify -purpose sslclient -CAfile "$ca" "$c" >/dev/null 2>&1 \
        && openssl x509 -in "$c" -noout -checkend $((30 * 86400)) >/dev/null 2>&1; then
        say "kept the relay certificate $c (CN=$cn, until $(openssl x509 -in "$c" -noout -enddate | cut -d= -f2))"
        return 0
    fi
    work=$(mktemp -d "$relay_dir/.make.XXXXXX")
    # shellcheck disable=SC2064 # expand now: work is local
    trap "rm -rf '$work'" EXIT
    cat > "$work/ext.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[relay]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    (umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null) \
        || die "openssl genpkey failed"
    openssl req -new -key "$work/key.pem" -subj "/CN=$cn" -config "$work/ext.cnf" -out "$work/req.csr" 2>"$work/err" \
        || die "openssl req failed: $(tail -1 "$work/err")"
    openssl x509 -req -in "$work/req.csr" -CA "$ca" -CAkey "$cakey" -set_serial "0x$(openssl rand -hex 16)" \
        -days 365 -sha256 -extfile "$work/ext.cnf" -extensions relay -out "$work/cert.pem" 2>"$work/err" \
        || die "signing the relay certificate failed: $(tail -1 "$work/err")"
    chmod 0600 "$work/key.pem"; chmod 0644 "$work/cert.pem"
    mv -f "$work/key.pem" "$k"; mv -f "$work/cert.pem" "$c"
    rm -rf "$work"; trap - EXIT
    say "made the relay certificate $c: CN=$cn, signed by $(openssl x509 -in "$ca" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'), valid 1 year"
    changed=1
}

# probe_server SERVER CA CERT KEY: warns when vbatchd cannot be reached or its certificate
# does not verify against the CA (not an error: vbatchd may not be up yet).
probe_server() {
    local server=$1 host out
    host=${server%:*}; host=${host#[}; host=${host%]}
    command -v timeout >/dev/null || return 0
    local check=(-verify_hostname "$host")
    [[ $host =~ ^[0-9.]+$ || $host == *:* ]] && check=(-verify_ip "$host")
    if out=$(timeout 10 openssl s_client -connect "$server" -CAfile "$2" -cert "$3" -key "$4" \
            -verify_return_error "${check[@]}" -brief </dev/null 2>&1); then
        say "vbatchd at $server answered; its certificate verifies against the CA"
    elif grep -qi 'verify error\|verification error\|certificate verify failed' <<< "$out"; then
        warn "vbatchd at $server: its certificate does not verify against $2 (or does not name $host): $(grep -m1 -i 'verify' <<< "$out")"
    elif grep -qi 'alert' <<< "$out"; then
        warn "vbatchd at $server refused the TLS handshake ($(grep -m1 -i 'alert' <<< "$out")): does it trust this CA for relays?"
    else
        warn "could not reach vbatchd at $server now (${out##*$'\n'}); is it up, and its TLS API listening there?"
    fi
}

# --- install ----------------------------------------------------------------------------
do_install() {
    local blah v candidate out cn
    changed=0
    command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl / dnf install openssl)"
    [[ -x $here/install-ce-commands.sh ]] || die "install-ce-commands.sh is missing beside $0"

    server=${server:-$(rec SERVER)}
    [[ -n $server ]] || die "--server HOST:PORT is required (vbatchd's TLS API)"
    if ! [[ $server =~ ^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$ ]] \
        || ((10#${BASH_REMATCH[3]} < 1 || 10#${BASH_REMATCH[3]} > 65535)); then
        die "--server: not HOST:PORT: $server"
    fi
    socket=${socket:-$(rec SOCKET)}; socket=${socket:-$default_socket}
    [[ $socket == /* ]] || die "--socket: not an absolute path: $socket"
    [[ -n $connections ]] || connections=$(rec CONNECTIONS)
    prefix=${prefix:-$(rec PREFIX)}; prefix=${prefix:-/usr/local}
    [[ $prefix == /* ]] || prefix=$(pwd)/$prefix
    prefix=${prefix%/}

    # The identity: checked before anything is installed.
    [[ -z $ca ]] || need_file --ca "$ca"
    [[ -z $cert ]] || need_file --certificate "$cert"
    [[ -z $key ]] || need_file --key "$key"
    [[ -z $ca_key ]] || need_file --ca-key "$ca_key"
    if [[ -z $ca ]]; then
        [[ -f $relay_dir/cacert.pem ]] || die "--ca FILE is required (the site CA)"
        ca=$relay_dir/cacert.pem
    fi
    if ((make_cert)); then
        [[ -n $ca_key ]] || die "--make-certificate needs --ca-key FILE (the site CA's key)"
        is_cert "$ca" || die "$ca: not a PEM certificate (the CA)"
        if [[ -z $name ]]; then
            name=$(hostname -f 2>/dev/null || true); [[ -n $name ]] || name=$(hostname)
        fi
        [[ $name =~ ^[A-Za-z0-9*]([A-Za-z0-9._@*-]*)$ ]] || die "--name: not a usable CN: $name"
        # (an encrypted CA key: openssl asks for its pass phrase here and when signing)
        [[ "$(pubkey_of_cert "$ca")" == "$(openssl pkey -in "$ca_key" -pubout 2>/dev/null)" ]] \
            || die "--ca-key $ca_key is not the key of the CA $ca"
    elif [[ -z $cert ]]; then
        [[ -f $relay_dir/relaycert.pem && -f $relay_dir/relaykey.pem ]] \
            || die "the relay needs a certificate: give --certificate FILE --key FILE, or --make-certificate --ca-key FILE"
        cert=$relay_dir/relaycert.pem key=$relay_dir/relaykey.pem
    fi
    ((make_cert)) || check_identity "$ca" "$cert" "$key"

    install -d -m 0755 "$config_dir"
    install -d -m 0700 "$relay_dir"
    copy_in "$ca" "$relay_dir/cacert.pem" 0644
    if ((make_cert)); then
        make_certificate "$relay_dir/cacert.pem" "$ca_key" "$name"
    else
        copy_in "$cert" "$relay_dir/relaycert.pem" 0644
        copy_in "$key" "$relay_dir/relaykey.pem" 0600
    fi
    check_identity "$relay_dir/cacert.pem" "$relay_dir/relaycert.pem" "$relay_dir/relaykey.pem"
    cn=$(cn_of "$relay_dir/relaycert.pem")

    # The binaries, the PBS commands and the BLAH scripts.
    if [[ -z $vbatch ]]; then
        for candidate in "$repo/.build/release/vbatch" "$repo/.build/debug/vbatch"; do
            if [[ -x $candidate && ( -z $vbatch || $candidate -nt $vbatch ) ]]; then vbatch=$candidate; fi
        done
        [[ -n $vbatch || ! -x $prefix/bin/vbatch ]] || vbatch=$prefix/bin/vbatch
        [[ -n $vbatch ]] || vbatch=$(command -v vbatch || true)
        [[ -n $vbatch ]] || die "no vbatch binary found: pass --vbatch PATH (vbatch-relay beside it)"
    fi
    [[ -f $vbatch && -x $vbatch ]] || die "--vbatch: not an executable file: $vbatch"
    [[ -n $blah_dir ]] || blah_dir=$(rec BLAH_DIR)
    [[ $blah_config == no || $(rec BLAH_CONFIG) != no ]] || blah_config=no
    if [[ -n $blah_dir ]]; then blah=$blah_dir
    elif [[ -d /usr/libexec/blahp ]]; then blah=/usr/libexec/blahp
    else blah=$prefix/libexec/vbatch/blah; fi
    v=(--vbatch "$vbatch" --bin-dir "$prefix/bin" --blah-dir "$blah")
    [[ $blah_config == yes ]] || v+=(--no-blah-config)
    out=$("$here/install-ce-commands.sh" "${v[@]}") || die "install-ce-commands.sh failed"
    [[ -z $out ]] || echo "$out"
    grep -q 'installed\|linked\|added' <<< "$out" && changed=1

    # relay.env
    {
        echo "# Written by setup-ce.sh; read by setup-ce.sh --start, --stop, --status."
        echo "VBATCH_RELAY_SERVER=\"$server\""
        echo "VBATCH_RELAY_SOCKET=\"$socket\""
        echo "VBATCH_RELAY_CA=\"$relay_dir/cacert.pem\""
        echo "VBATCH_RELAY_CERTIFICATE=\"$relay_dir/relaycert.pem\""
        echo "VBATCH_RELAY_KEY=\"$relay_dir/relaykey.pem\""
        echo "VBATCH_RELAY_CONNECTIONS=\"$connections\""
        echo "VBATCH_RELAY_PREFIX=\"$prefix\""
        echo "VBATCH_RELAY_BIN=\"$prefix/bin/vbatch\""
        echo "VBATCH_RELAY_BLAH_DIR=\"$blah_dir\""
        echo "VBATCH_RELAY_BLAH_CONFIG=\"$blah_config\""
    } > "$env_file.new"
    if cmp -s "$env_file.new" "$env_file"; then rm -f "$env_file.new"
    else chmod 0644 "$env_file.new"; mv -f "$env_file.new" "$env_file"; say "wrote $env_file"; changed=1; fi
    read_env

    probe_server "$server" "$relay_dir/cacert.pem" "$relay_dir/relaycert.pem" "$relay_dir/relaykey.pem"
    say "relay: $socket -> $server as CN=$cn; vbatchd's site file must list it: [api] relays = [\"$cn\", …]"
    [[ $socket == "$default_socket" ]] \
        || say "note: the commands need VBATCH_SOCKET=$socket (blah.config: vbatch_socket=$socket)"
    if ((changed == 0)); then say "up to date ($env_file)"; fi
}

# --- start, stop, status ----------------------------------------------------------------
configured_or_die() {
    [[ -n $(rec SERVER) && -n $(rec BIN) ]] || die "not configured ($env_file missing): run setup-ce.sh --server HOST:PORT --ca … first"
}

do_stop() {
    local p sock
    sock=$(rec SOCKET)
    p=$(relay_pid)
    if [[ -z $p ]]; then
        rm -f "$pid_file"
        say "the relay is not running"
        return 0
    fi
    kill -TERM "$p" 2>/dev/null || true
    if ! wait_gone "$p" 100; then
        warn "the relay (pid $p) did not stop in 10 s: SIGKILL"
        kill -KILL "$p" 2>/dev/null || true
        wait_gone "$p" 50 || die "the relay (pid $p) is still running after SIGKILL"
    fi
    rm -f "$pid_file"
    # After a SIGKILL the socket stays behind: remove it unless something else serves it.
    if [[ -n $sock && -S $sock ]] && ! socket_in_use "$sock"; then rm -f "$sock"; fi
    say "stopped the relay (pid $p)"
}

do_start() {
    local p bin sock server args size i
    configured_or_die
    bin=$(rec BIN) sock=$(rec SOCKET) server=$(rec SERVER)
    p=$(relay_pid)
    if [[ -n $p ]]; then
        if ((${changed:-0})); then say "the configuration changed: restarting the relay (pid $p)"; do_stop
        else say "the relay is running already (pid $p): $sock -> $server"; return 0; fi
    fi
    [[ -x $bin ]] || die "$bin is missing (run setup-ce.sh without --start to install)"
    [[ -x $(dirname "$bin")/vbatch-relay ]] || die "$(dirname "$bin")/vbatch-relay is missing: \`vbatch relay' cannot run (install it: setup-ce.sh --vbatch PATH)"
    for f in CA CERTIFICATE KEY; do [[ -r $(rec $f) ]] || die "$(rec $f) is missing (run setup-ce.sh with --ca/--certificate/--key)"; done
    if [[ -e $sock || -L $sock ]]; then
        [[ -S $sock ]] || die "$sock exists and is not a socket"
        socket_in_use "$sock" && die "$sock is served by another process (a local vbatchd, or a relay started by hand?)"
        rm -f "$sock"   # left by a relay that was killed
    fi
    install -d -m 0755 "$(dirname "$pid_file")" "$(dirname "$sock")" "$(dirname "$log_file")"
    size=$(stat -c %s "$log_file" 2>/dev/null || echo 0)
    args=(relay --server "$server" --ca "$(rec CA)" --certificate "$(rec CERTIFICATE)" --key "$(rec KEY)" --socket "$sock")
    [[ -z $(rec CONNECTIONS) ]] || args+=(--connections "$(rec CONNECTIONS)")
    echo "=== $(date '+%F %T') setup-ce.sh --start: $bin ${args[*]}" >> "$log_file"
    rm -f "$pid_file" "$pid_file.new"   # a stale one (its relay is gone) must not be read below
    # The relay's own session, no terminal, a clean environment, and no descriptor of ours
    # but 0-2 (a caller waiting for EOF on a pipe or socket it passed us must not wait for the
    # relay too); the pid is written by the process that then execs vbatch (which execs
    # vbatch-relay: same pid).
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c 'for f in /proc/$$/fd/*; do f=${f##*/}; ((f > 2)) && eval "exec $f>&-" 2>/dev/null; done
        echo $$ > "$0.new" && mv -f "$0.new" "$0" && exec "$@"' "$pid_file" \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/ \
        "$bin" "${args[@]}" </dev/null >>"$log_file" 2>&1 &
    p=
    for ((i = 0; i < 100; i++)); do
        if [[ -z $p ]]; then p=$(cat "$pid_file" 2>/dev/null || true); fi
        if [[ -n $p ]]; then
            if [[ -S $sock ]] && alive "$p"; then
                say "started the relay (pid $p): $sock -> $server; log $log_file"
                return 0
            fi
            alive "$p" || break
        fi
        sleep 0.1
    done
    if [[ -n $p ]] && alive "$p"; then
        kill -TERM "$p" 2>/dev/null || true
        wait_gone "$p" 50 || kill -KILL "$p" 2>/dev/null || true
        echo "setup-ce: error: the relay did not create $sock within 10 s (stopped it); $log_file ends with:" >&2
    else
        echo "setup-ce: error: the relay exited at once; $log_file ends with:" >&2
    fi
    rm -f "$pid_file"
    tail -c +$((size + 1)) "$log_file" | tail -n 15 | sed 's/^/  /' >&2
    exit 1
}

do_status() {
    local p
    if [[ -z $(rec SERVER) ]]; then echo "vbatch relay: not configured ($env_file missing)"; exit 3; fi
    p=$(relay_pid)
    if [[ -n $p ]]; then
        echo "vbatch relay: running (pid $p), $(rec SOCKET) -> $(rec SERVER)"
        [[ -S $(rec SOCKET) ]] || echo "vbatch relay: warning: its socket $(rec SOCKET) is missing"
        exit 0
    fi
    echo "vbatch relay: not running ($(rec SOCKET) -> $(rec SERVER); start: $0${config_arg} --start)"
    exit 3
}

((EUID == 0)) || [[ $action == status ]] || die "must run as root"
changed=0
case $action in
    install) do_install ;;
    start) ((configured)) && do_install; do_start ;;
    stop) do_stop ;;
    status) do_status ;;
esac
