#!/usr/bin/env bash
# setup-node.sh — turns a Debian 12 machine into a vbatch worker node, idempotently.
#
# What: a libvirtd that vbatchd reaches over mutual TLS (qemu+tls://ADDR/system, port
# 16514), QEMU guests running as root without a security driver, and the directories and
# storage pools vbatch keeps images and job disks in. Run it again at any time: it changes
# only what differs, restarts libvirtd only when its configuration or certificates
# changed, and never regenerates the host UUID (live migration needs distinct, stable
# host UUIDs).
#
# Why one script for two uses: the same file sets up a real node and, run by
# scripts/test-hosts.sh inside a test host's network + mount namespaces (--test-host),
# each test node, so the tests exercise exactly what a real node gets.
#
# Usage: setup-node.sh [--ca FILE --cert FILE --key FILE] [options]
#   --ca FILE        CA certificate(s) the node trusts for clients (PEM; may be a bundle)
#   --cert FILE      the node's server certificate (its subjectAltName must name the
#                    address the daemon connects to)
#   --key FILE       the server certificate's private key
#                    The three are needed the first time; later runs keep what is installed.
#   --listen ADDR    address libvirtd listens on (default 0.0.0.0); the printed URI uses it
#   --allow-dn DN    client DN admitted (repeatable; default "CN=vbatchd")
#   --tcp            ALSO listen on plain TCP 16509 without any authentication: tests only
#   --no-install     do not apt-get install anything (the packages must be there)
#   --test-host      running inside scripts/test-hosts.sh's namespaces: /etc/libvirt,
#                    /run/libvirt, /var/lib/libvirt must be private bind mounts (checked);
#                    qemu.conf also gets namespaces = [ ], cgroup_controllers = [ ],
#                    stdio_handler = "file", migration_address/migration_host = --listen ADDR;
#                    never uses systemd
#   --run-dir DIR    without systemd: where libvirtd.pid, virtlogd.pid and the daemons'
#                    start logs go (default /run/vbatch-node)
#   --no-pools       do not define the storage pools
#
# Where the TLS files go (the same in both modes; /etc/pki is shared between test hosts,
# /etc/libvirt is private to each, so this one layout works everywhere):
#   /etc/libvirt/pki/cacert.pem               0644  (ca_file)
#   /etc/libvirt/pki/servercert.pem           0644  (cert_file)
#   /etc/libvirt/pki/private/serverkey.pem    0600, directory 0700  (key_file)
# libvirtd.conf names them explicitly, so libvirt's defaults under /etc/pki are not used.
#
# Daemons: with systemd as PID 1 (and not --test-host) the socket units libvirtd.socket,
# libvirtd-ro.socket, libvirtd-admin.socket, libvirtd-tls.socket (and libvirtd-tcp.socket
# with --tcp) are enabled, with a drop-in that binds them to --listen ADDR. Without
# systemd: `virtlogd -d -p RUN/virtlogd.pid` and `libvirtd -d --listen -p RUN/libvirtd.pid`.
# A libvirtd is only ever stopped if it runs in this script's own mount namespace (that is,
# it serves this /run/libvirt), never by name alone.
#
# Pools: `dir` pools vbatch-images (/var/lib/vbatch/images) and vbatch-jobs
# (/var/lib/vbatch/jobs), defined, built, started and autostarted if missing.
#
# Output: progress on stderr; the last line on stdout is the URI a daemon would use,
# qemu+tls://ADDR/system.
set -euo pipefail

say() { echo "setup-node: $*" >&2; }
die() { echo "setup-node: error: $*" >&2; exit 1; }
usage() { sed -n '/^# Usage:/,/^# Where/p' "$0" 2>/dev/null | sed '$d; s/^# \{0,1\}//' >&2 || true; exit "${1:-2}"; }

install_pkgs=1 test_host=0 tcp=0 pools=1
listen=0.0.0.0 run_dir=/run/vbatch-node
ca_src='' cert_src='' key_src=''
allow_dns=()
while (($#)); do
    case $1 in
        --ca) ca_src=${2:?--ca needs a file}; shift 2 ;;
        --cert) cert_src=${2:?--cert needs a file}; shift 2 ;;
        --key) key_src=${2:?--key needs a file}; shift 2 ;;
        --listen) listen=${2:?--listen needs an address}; shift 2 ;;
        --allow-dn) allow_dns+=("${2:?--allow-dn needs a DN}"); shift 2 ;;
        --tcp) tcp=1; shift ;;
        --no-install) install_pkgs=0; shift ;;
        --test-host) test_host=1; shift ;;
        --run-dir) run_dir=${2:?--run-dir needs a directory}; shift 2 ;;
        --no-pools) pools=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "setup-node: unknown argument: $1" >&2; usage ;;
    esac
done
((${#allow_dns[@]})) || allow_dns=("CN=vbatchd")
for dn in "${allow_dns[@]}"; do
    [[ $dn != *[\"\\]* ]] || die "a DN with a quote or backslash is not supported: $dn"
done
[[ $listen =~ ^[0-9A-Za-z.:-]+$ ]] || die "--listen: not an address: $listen"
((EUID == 0)) || die "must run as root"

pki=/etc/libvirt/pki
ca_file=$pki/cacert.pem cert_file=$pki/servercert.pem key_file=$pki/private/serverkey.pem
libvirtd_conf=/etc/libvirt/libvirtd.conf qemu_conf=/etc/libvirt/qemu.conf
images_dir=/var/lib/vbatch/images jobs_dir=/var/lib/vbatch/jobs

# --- packages ---------------------------------------------------------------------------
packages=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils)
if ((install_pkgs)); then
    missing=()
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq -o Dpkg::Options::=--force-confnew "${missing[@]}" >/dev/null
    fi
fi
for cmd in libvirtd virtlogd virsh; do
    command -v "$cmd" >/dev/null || die "$cmd is missing (packages: ${packages[*]}; run without --no-install)"
done

# --- mode -------------------------------------------------------------------------------
use_systemd=0
if ((!test_host)) && [[ -d /run/systemd/system ]] && [[ "$(cat /proc/1/comm 2>/dev/null)" == systemd ]]; then
    use_systemd=1
fi
if ((test_host)); then
    # Refuse to reconfigure the machine's own libvirt by mistake.
    for d in /etc/libvirt /run/libvirt /var/lib/libvirt; do
        mountpoint -q "$d" || die "--test-host: $d is not a private mount here (run through scripts/test-hosts.sh)"
    done
    [[ $listen != 0.0.0.0 && $listen != :: ]] || die "--test-host needs --listen with the host's own address"
fi
[[ -f $libvirtd_conf ]] || die "$libvirtd_conf is missing"
[[ -f $qemu_conf ]] || die "$qemu_conf is missing"

# Everything that, when changed, needs a libvirtd restart.
state_hash() { { cat "$libvirtd_conf" "$qemu_conf" "$ca_file" "$cert_file" "$key_file" 2>/dev/null || true; } | md5sum; }
before=$(state_hash)

# --- TLS files --------------------------------------------------------------------------
# The trio that will be in force: what was given, else what is installed.
eff_ca=${ca_src:-$ca_file} eff_cert=${cert_src:-$cert_file} eff_key=${key_src:-$key_file}
for f in "$eff_ca" "$eff_cert" "$eff_key"; do
    [[ -r $f ]] || die "no TLS file $f: pass --ca FILE --cert FILE --key FILE (the first run needs all three)"
done
if command -v openssl >/dev/null; then
    [[ "$(openssl x509 -in "$eff_cert" -noout -pubkey 2>/dev/null)" == "$(openssl pkey -in "$eff_key" -pubout 2>/dev/null)" ]] \
        || die "the key $eff_key does not belong to the certificate $eff_cert"
    # libvirtd refuses to start when its own certificate does not verify against ca_file.
    openssl verify -CAfile "$eff_ca" "$eff_cert" >/dev/null 2>&1 \
        || die "the certificate $eff_cert does not verify against $eff_ca (libvirtd would not start)"
    openssl x509 -in "$eff_cert" -noout -checkend 0 >/dev/null 2>&1 || die "the certificate $eff_cert has expired"
    openssl x509 -in "$eff_cert" -noout -checkend $((7 * 86400)) >/dev/null 2>&1 \
        || say "warning: the certificate $eff_cert expires within 7 days"
else
    say "openssl is not installed: not checking the certificates (libvirtd will)"
fi
# install_file SRC DEST MODE: copy unless identical.
install_file() {
    [[ $1 -ef $2 ]] && return 0
    if ! cmp -s "$1" "$2"; then
        install -m "$3" "$1" "$2.new"
        mv -f "$2.new" "$2"
        say "installed $2"
    fi
    chmod "$3" "$2"
}
install -d -m 0755 "$pki"
install -d -m 0700 "$pki/private"
install_file "$eff_ca" "$ca_file" 0644
install_file "$eff_cert" "$cert_file" 0644
install_file "$eff_key" "$key_file" 0600

# --- configuration files ----------------------------------------------------------------
# set_conf FILE KEY VALUE: the first uncommented "KEY = ..." line becomes "KEY = VALUE"
# (further ones are dropped), or the line is appended. Single-line values only. The file is
# rewritten in place (same inode, mode and owner) and only if it changes.
set_conf() {
    local f=$1 tmp
    tmp=$(mktemp "$f.XXXXXX")
    K=$2 V=$3 awk '
        BEGIN { line = ENVIRON["K"] " = " ENVIRON["V"]; pat = "^[ \t]*" ENVIRON["K"] "[ \t]*=" }
        $0 ~ pat { if (!done) print line; done = 1; next }
        { print }
        END { if (!done) print line }' "$f" > "$tmp"
    cmp -s "$tmp" "$f" || cat "$tmp" > "$f"
    rm -f "$tmp"
}
q() { printf '"%s"' "$1"; }

set_conf "$qemu_conf" user '"root"'
set_conf "$qemu_conf" group '"root"'
set_conf "$qemu_conf" security_driver '"none"'
if ((test_host)); then
    # Several libvirtds on one machine: no per-domain mount namespaces (/dev handling),
    # no cgroups (they would share cgroup paths), QEMU's output straight to files (no
    # shared virtlogd), and migration on the host's own address (its hostname resolves
    # to nothing useful).
    set_conf "$qemu_conf" namespaces '[ ]'
    set_conf "$qemu_conf" cgroup_controllers '[ ]'
    set_conf "$qemu_conf" stdio_handler '"file"'
    set_conf "$qemu_conf" migration_address "$(q "$listen")"
    set_conf "$qemu_conf" migration_host "$(q "$listen")"
fi

dn_list=$(printf '"%s", ' "${allow_dns[@]}"); dn_list="[ ${dn_list%, } ]"
set_conf "$libvirtd_conf" listen_tls 1
set_conf "$libvirtd_conf" listen_addr "$(q "$listen")"
set_conf "$libvirtd_conf" auth_tls '"none"'   # the client certificate + DN list is the check
set_conf "$libvirtd_conf" key_file "$(q "$key_file")"
set_conf "$libvirtd_conf" cert_file "$(q "$cert_file")"
set_conf "$libvirtd_conf" ca_file "$(q "$ca_file")"
set_conf "$libvirtd_conf" tls_no_verify_certificate 0
set_conf "$libvirtd_conf" tls_allowed_dn_list "$dn_list"
if ((tcp)); then
    say "WARNING: --tcp: libvirtd ALSO listens on $listen:16509 WITHOUT ANY AUTHENTICATION."
    say "WARNING: anyone who reaches that port is root on this machine. For tests only."
    set_conf "$libvirtd_conf" listen_tcp 1
    set_conf "$libvirtd_conf" auth_tcp '"none"'
else
    set_conf "$libvirtd_conf" listen_tcp 0
    set_conf "$libvirtd_conf" auth_tcp '"sasl"'
fi
# host_uuid: made once, kept forever (regenerating it would make a running node look like a
# different host; two nodes with the same one cannot migrate to each other).
if ! grep -qE '^[[:space:]]*host_uuid[[:space:]]*=[[:space:]]*"[0-9a-fA-F-]{36}"' "$libvirtd_conf"; then
    set_conf "$libvirtd_conf" host_uuid "$(q "$(cat /proc/sys/kernel/random/uuid)")"
    say "new host_uuid"
fi

install -d -m 0755 /var/lib/vbatch "$images_dir" "$jobs_dir"

after=$(state_hash)
changed=0; [[ $before == "$after" ]] || changed=1

# --- daemons ----------------------------------------------------------------------------
# same_ns PID: the process shares this script's mount and network namespaces (so it is the
# daemon serving this /run/libvirt, not the machine's or another test host's).
same_ns() {
    [[ "$(readlink "/proc/$1/ns/mnt" 2>/dev/null)" == "$(readlink /proc/self/ns/mnt)" ]] &&
    [[ "$(readlink "/proc/$1/ns/net" 2>/dev/null)" == "$(readlink /proc/self/ns/net)" ]]
}
# find_daemon NAME PIDFILE: the pid of our NAME (from PIDFILE, else by namespace), or nothing.
find_daemon() {
    local name=$1 pidfile=$2 pid p
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] && alive "$pid" && same_ns "$pid"; then
        echo "$pid"; return
    fi
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ "$(cat "$p/comm" 2>/dev/null)" == "$name" ]] && alive "$pid" && same_ns "$pid" && { echo "$pid"; return; }
    done
    true
}
# alive PID: running; a zombie counts as gone (some PID 1s reap late).
alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }; [[ ${st%% *} != [ZX] ]]
}
# stop_pid PID: TERM, wait up to 20 s, then KILL.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 200); do alive "$1" || return 0; sleep 0.1; done
    say "pid $1 did not stop in 20 s: killing it"
    kill -KILL "$1" 2>/dev/null || true
    for _ in $(seq 50); do alive "$1" || return 0; sleep 0.1; done
}
# start_daemon NAME CMD...: starts a self-daemonizing CMD with no inherited descriptors (a
# caller's pipe held open by libvirtd would never see EOF), its start-up output in a log.
start_daemon() {
    local name=$1 log=$run_dir/$1.start.log; shift
    if ! (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null || true
        done
        exec "$@"
    ) </dev/null >>"$log" 2>&1; then
        tail -n 20 "$log" >&2 || true
        [[ -f /var/log/libvirt/$name.log ]] && tail -n 20 "/var/log/libvirt/$name.log" >&2
        die "$name did not start (log: $log)"
    fi
}
virsh_local() { virsh -q -c qemu:///system "$@"; }

if ((use_systemd)); then
    # Socket activation: libvirtd then takes its listening sockets from systemd and ignores
    # listen_tls/listen_addr, so the address goes into drop-ins for the socket units.
    units_changed=0
    write_dropin() { # UNIT PORT
        local d=/etc/systemd/system/$1.d f content
        f=$d/vbatch-node.conf
        if [[ $listen == 0.0.0.0 ]]; then content="[Socket]"$'\n'"ListenStream="$'\n'"ListenStream=$2"
        elif [[ $listen == *:* ]]; then content="[Socket]"$'\n'"ListenStream="$'\n'"ListenStream=[$listen]:$2"
        else content="[Socket]"$'\n'"ListenStream="$'\n'"ListenStream=$listen:$2"; fi
        if [[ "$(cat "$f" 2>/dev/null)" != "$content" ]]; then
            mkdir -p "$d"; printf '%s\n' "$content" > "$f"; units_changed=1
        fi
    }
    write_dropin libvirtd-tls.socket 16514
    ((tcp)) && write_dropin libvirtd-tcp.socket 16509
    systemctl daemon-reload
    sockets=(libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket libvirtd-tls.socket)
    ((tcp)) && sockets+=(libvirtd-tcp.socket)
    if ((!tcp)) && systemctl is-enabled -q libvirtd-tcp.socket 2>/dev/null; then
        systemctl stop libvirtd.service || true
        systemctl disable --now libvirtd-tcp.socket
        changed=1
    fi
    systemctl enable -q --now virtlogd.socket
    if ((changed || units_changed)) || ! systemctl is-active -q libvirtd-tls.socket; then
        say "restarting libvirtd (configuration changed)"
        systemctl stop libvirtd.service || true
        for s in "${sockets[@]}"; do systemctl stop "$s" || true; done
    fi
    systemctl enable -q "${sockets[@]}" libvirtd.service
    systemctl start "${sockets[@]}"
    systemctl start libvirtd.service
else
    install -d -m 0755 "$run_dir"
    mkdir -p /var/log/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt
    [[ -n "$(find_daemon virtlogd "$run_dir/virtlogd.pid")" ]] \
        || start_daemon virtlogd virtlogd -d -p "$run_dir/virtlogd.pid"
    pid=$(find_daemon libvirtd "$run_dir/libvirtd.pid")
    if [[ -n $pid ]]; then
        listening=0
        for arg in $(tr '\0' ' ' < "/proc/$pid/cmdline"); do
            [[ $arg == --listen || $arg =~ ^-[a-zA-Z]*l ]] && listening=1
        done
        if ((changed || !listening)); then
            why="it runs without --listen"; ((changed)) && why="configuration changed"
            say "restarting libvirtd (pid $pid): $why"
            stop_pid "$pid"
            pid=
        fi
    fi
    if [[ -z $pid ]]; then
        rm -f "$run_dir/libvirtd.pid"
        start_daemon libvirtd libvirtd -d --listen -p "$run_dir/libvirtd.pid"
        say "libvirtd started (pid $(cat "$run_dir/libvirtd.pid" 2>/dev/null || echo '?'))"
    fi
fi

for _ in $(seq 300); do
    virsh_local version >/dev/null 2>&1 && break
    sleep 0.1
done
virsh_local version >/dev/null 2>&1 || die "libvirtd does not answer on qemu:///system"
# The TLS socket must be there too (a libvirtd that cannot use its certificates exits at
# start, but say it plainly if it is not listening).
if command -v ss >/dev/null && [[ -z "$(ss -Hltn "sport = :16514" 2>/dev/null)" ]]; then
    die "libvirtd answers locally but nothing listens on port 16514"
fi

# --- storage pools ----------------------------------------------------------------------
ensure_pool() { # NAME PATH
    local name=$1 path=$2 target
    if ! virsh_local pool-info "$name" >/dev/null 2>&1; then
        virsh_local pool-define-as "$name" dir --target "$path" >/dev/null
        say "defined pool $name ($path)"
    fi
    target=$(virsh_local pool-dumpxml "$name" | sed -n 's:.*<path>\(.*\)</path>.*:\1:p' | head -1)
    [[ $target == "$path" ]] || say "warning: pool $name has target $target, not $path"
    if [[ "$(virsh_local pool-info "$name" | awk -F': *' '$1 == "State" {print $2}')" != running ]]; then
        virsh_local pool-build "$name" >/dev/null 2>&1 || true
        virsh_local pool-start "$name" >/dev/null
    fi
    [[ "$(virsh_local pool-info "$name" | awk -F': *' '$1 == "Autostart" {print $2}')" == yes ]] \
        || virsh_local pool-autostart "$name" >/dev/null
}
if ((pools)); then
    ensure_pool vbatch-images "$images_dir"
    ensure_pool vbatch-jobs "$jobs_dir"
fi

# --- the URI ----------------------------------------------------------------------------
addr=$listen
if [[ $addr == 0.0.0.0 || $addr == :: ]]; then addr=$(hostname -f 2>/dev/null || hostname); fi
[[ $addr == *:* ]] && addr="[$addr]"
say "node ready: libvirtd $(virsh_local version 2>/dev/null | awk -F': *' '/Running hypervisor/ {print $2}'), TLS on ${listen}:16514, admitted ${allow_dns[*]}"
echo "qemu+tls://$addr/system"
