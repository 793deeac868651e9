#!/usr/bin/env bash
# test-hosts.sh — several vbatch worker nodes (libvirtd hosts) on this one machine, for tests.
#
# Why: vbatchd drives many nodes over qemu+tls://; its tests need real, separate libvirtd
# nodes (own address, own /etc/libvirt, own storage, own host UUID, own certificate) that
# share no files with the daemon, plus addresses that never answer. This script builds
# them in network + mount + UTS namespaces, following /work/shared/test-hosts.md, and
# configures each with scripts/setup-node.sh (run inside the host), so the tests exercise
# the real node setup. All traffic stays on this machine: a bridge and namespaces, no
# default route anywhere.
#
# Usage (as root):
#   test-hosts.sh up [N] [--pki DIR] [--dead M]   N hosts (default 3); runs `down` first if
#                                                 anything is left from before
#   test-hosts.sh down                            removes everything (safe when nothing is up)
#   test-hosts.sh status                          one line per host; exit 1 if one is not well
#   test-hosts.sh env                             the shell assignments the tests read
#   test-hosts.sh exec wnI [CMD...]               runs CMD (default: bash) inside host wnI
#   test-hosts.sh stop wnI [--kill]               stops wnI's libvirtd (SIGTERM, or SIGKILL
#                                                 to look like a crash); its guests keep running
#   test-hosts.sh start wnI [setup-node options]  (re)runs setup-node.sh inside wnI, e.g. with
#                                                 --ca/--cert/--key to give it other certificates
#                                                 (files are copied in; the host cannot see yours)
#
# Layout:
#   bridge vbr0 10.77.0.1/24 in the root namespace; host wnI = netns wnI at 10.77.0.(10+I),
#   veth vwnI (root side, on vbr0) <-> eth0 (in wnI), hostname wnI (UTS namespace).
#   Private root per host /var/lib/vbatch-test-hosts/wnI/{etc,run,lib,log,cache,vbatch},
#   bind-mounted in the host's mount namespace over /etc/libvirt, /run/libvirt,
#   /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt, /var/lib/vbatch. Its etc/ starts
#   as a copy of the machine's /etc/libvirt without domains, pools, networks' autostart,
#   secrets and host_uuid. Then, so that a host sees none of the daemon's files, an empty
#   tmpfs over /tmp, /var/tmp, /dev/shm, /root, the repository (this script's ..),
#   /var/lib/vbatch-test-hosts (the other hosts' roots), the PKI directory, and every
#   directory in $VBATCH_TEST_HOSTS_HIDE (space-separated).
#   A holder process (`sleep infinity`, pid in wnI/holder.pid) keeps each host's mount and
#   UTS namespaces; `exec` enters them with nsenter -t HOLDER -m -u -n. libvirtd/virtlogd
#   pid files: wnI/run/vbatch-node/{libvirtd,virtlogd}.pid (inside: /run/libvirt/vbatch-node).
#   --dead M: netns vbdead at 10.77.0.250 owns 10.77.1.1 .. 10.77.1.M (M <= 254) and drops
#   every incoming TCP packet, so a connect() there hangs without an answer; the root
#   namespace routes 10.77.1.0/24 to it over vbr0.
#   PKI (scripts/make-test-pki.sh): --pki DIR, default /var/lib/vbatch-test-hosts/pki
#   (removed by `down`); the daemon's pkipath is DIR/client.
#   /var/lib/vbatch-test-hosts/env: the `env` output, e.g.
#     VBATCH_TEST_HOSTS="wn1=10.77.0.11 wn2=10.77.0.12 wn3=10.77.0.13"
#     VBATCH_TEST_PKI="/var/lib/vbatch-test-hosts/pki"
#     VBATCH_TEST_DEAD="10.77.1.1 10.77.1.2 ..."      (empty without --dead)
#     VBATCH_TEST_HOSTS_CTL="/path/to/scripts/test-hosts.sh"
#   (KEY="VALUE" lines, no expansions inside: `set -a; . FILE; set +a` works.)
#
# The machine's own libvirtd (qemu:///system, scripts/setup-libvirt.sh) is left alone:
# processes are found only through this script's pid files and the test namespaces, and
# nothing that shares this script's network namespace is ever killed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self=$repo/scripts/test-hosts.sh
state=/var/lib/vbatch-test-hosts
bridge=vbr0 bridge_addr=10.77.0.1
dead_ns=vbdead dead_addr=10.77.0.250 dead_net=10.77.1
host_run=/run/libvirt/vbatch-node   # setup-node.sh --run-dir, inside a host

say() { echo "test-hosts: $*" >&2; }
die() { echo "test-hosts: error: $*" >&2; exit 1; }
usage() { sed -n '/^# Usage/,/^# Layout/p' "$self" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

need_root() { ((EUID == 0)) || die "must run as root"; }
host_ip() { echo "10.77.0.$((10 + ${1#wn}))"; }

# --- processes --------------------------------------------------------------------------
# ours_to_kill PID [COMM]: PID exists, has that command name (if given) and is NOT in this
# script's network namespace (so it can never be the machine's own libvirtd).
ours_to_kill() {
    [[ $1 =~ ^[0-9]+$ ]] && alive "$1" || return 1
    # shellcheck disable=SC2053 # $2 is a glob on purpose ("qemu-*")
    [[ -z ${2:-} || "$(cat "/proc/$1/comm" 2>/dev/null)" == $2 ]] || return 1
    [[ "$(readlink "/proc/$1/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ]]
}
pid_from() { local p; p=$(cat "$1" 2>/dev/null || true); [[ $p =~ ^[0-9]+$ ]] && echo "$p" || true; }
# alive PID: running (a zombie counts as gone: this machine's PID 1 reaps them only
# after a second or two).
alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }; [[ ${st%% *} != [ZX] ]]
}
# kill_wait SIGNAL PID...: signal, then wait up to 10 s for them to go, then SIGKILL.
kill_wait() {
    local sig=$1 p left; shift
    (($#)) || return 0
    kill "-$sig" "$@" 2>/dev/null || true
    for _ in $(seq 100); do
        left=0; for p in "$@"; do alive "$p" && left=1; done
        ((left)) || return 0
        sleep 0.1
    done
    kill -KILL "$@" 2>/dev/null || true
    for _ in $(seq 50); do
        left=0; for p in "$@"; do alive "$p" && left=1; done
        ((left)) || return 0
        sleep 0.1
    done
    say "warning: still running after SIGKILL: $*"
}
holder_pid() { # NAME: the live holder of host NAME, or nothing
    local p; p=$(pid_from "$state/$1/holder.pid")
    [[ -n $p ]] && ours_to_kill "$p" sleep && echo "$p" || true
}
in_host() { # NAME CMD...: CMD inside host NAME
    local h=$1 p; shift
    p=$(holder_pid "$h"); [[ -n $p ]] || die "host $h is not up (no holder process)"
    nsenter -t "$p" -m -u -n --wd=/ -- "$@"
}

# --- down -------------------------------------------------------------------------------
host_down() {
    local h=$1 R=$state/$1 hp p pids=() dom
    hp=$(holder_pid "$h")
    # Guests first, through the host's own libvirtd (if it still answers).
    if [[ -n $hp ]]; then
        for dom in $(timeout 10 nsenter -t "$hp" -m -u -n -- virsh -q -c qemu:///system list --name 2>/dev/null || true); do
            timeout 10 nsenter -t "$hp" -m -u -n -- virsh -q -c qemu:///system destroy "$dom" >/dev/null 2>&1 || true
        done
    fi
    # The daemons and any QEMU left, by their pid files.
    p=$(pid_from "$R/run/vbatch-node/libvirtd.pid"); [[ -n $p ]] && ours_to_kill "$p" libvirtd && pids+=("$p")
    p=$(pid_from "$R/run/vbatch-node/virtlogd.pid"); [[ -n $p ]] && ours_to_kill "$p" virtlogd && pids+=("$p")
    for f in "$R"/run/qemu/*.pid; do
        [[ -f $f ]] || continue
        p=$(pid_from "$f"); [[ -n $p ]] && ours_to_kill "$p" "qemu-*" && pids+=("$p")
    done
    kill_wait TERM "${pids[@]}"
    # Whatever else lives in the host's network namespace (QEMU, helpers, the holder).
    pids=()
    if [[ -e /run/netns/$h ]]; then
        for p in $(ip netns pids "$h" 2>/dev/null || true); do ours_to_kill "$p" && pids+=("$p"); done
    fi
    [[ -n $hp ]] && pids+=("$hp")
    kill_wait KILL "${pids[@]}"
    [[ -e /run/netns/$h ]] && { ip netns del "$h" 2>/dev/null || say "warning: ip netns del $h failed"; }
    ip link show "v$h" >/dev/null 2>&1 && ip link del "v$h" 2>/dev/null || true
}

dead_down() {
    local p pids=()
    if [[ -e /run/netns/$dead_ns ]]; then
        for p in $(ip netns pids "$dead_ns" 2>/dev/null || true); do ours_to_kill "$p" && pids+=("$p"); done
        kill_wait KILL "${pids[@]}"
        ip netns del "$dead_ns" 2>/dev/null || say "warning: ip netns del $dead_ns failed"
    fi
    ip link show "v$dead_ns" >/dev/null 2>&1 && ip link del "v$dead_ns" 2>/dev/null || true
}

cmd_down() {
    need_root
    local hosts=() h m
    if [[ -d $state ]]; then
        for d in "$state"/wn*; do [[ -d $d ]] && hosts+=("${d##*/}"); done
    fi
    for h in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^wn[0-9]+$' || true); do
        [[ " ${hosts[*]} " == *" $h "* ]] || hosts+=("$h")
    done
    for h in "${hosts[@]}"; do host_down "$h"; done
    # Veths of hosts whose namespace is already gone.
    for h in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^vwn[0-9]+$' || true); do
        ip link del "$h" 2>/dev/null || true
    done
    dead_down
    ip link show "$bridge" >/dev/null 2>&1 && ip link del "$bridge"   # its routes go with it
    if [[ -d $state ]]; then
        # Nothing of ours is mounted in this namespace, but never rm -r through a mount.
        for m in $(awk -v s="$state" '$5 == s || index($5, s "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
            umount -l "$m" 2>/dev/null || true
        done
        if awk -v s="$state" '$5 == s || index($5, s "/") == 1 {found = 1} END {exit !found}' /proc/self/mountinfo; then
            die "mounts remain under $state; not removing it"
        fi
        rm -rf --one-file-system "$state"
    fi
    ((${#hosts[@]})) && say "down: removed ${hosts[*]}" || true
}

stale() {
    [[ -e $state ]] && return 0
    ip link show "$bridge" >/dev/null 2>&1 && return 0
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qE "^(wn[0-9]+|$dead_ns)$"
}

# --- up ---------------------------------------------------------------------------------
# The holder: runs inside `ip netns exec wnI unshare --mount --uts --propagation private`,
# makes the host's mounts, hides the daemon's directories, then becomes `sleep infinity`.
# Arguments: NAME ROOT DIR-TO-HIDE...
holder_script='
set -eu
h=$1 R=$2; shift 2
hostname "$h"
binds="etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt vbatch:/var/lib/vbatch"
for b in $binds; do mount --bind "$R/${b%%:*}" "${b#*:}"; done
for d in "$@"; do
    [ -d "$d" ] || continue
    case "$d" in /|/etc|/run|/var|/var/lib|/var/log|/var/cache) echo "not hiding $d" >&2; continue ;; esac
    mount -t tmpfs -o "mode=$(stat -c %a "$d"),size=256m" vbatch-hidden "$d"
done
for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done
echo "ready $$"
exec sleep infinity
'

# run_setup NAME [setup-node options]: setup-node.sh inside host NAME. The script and any
# --ca/--cert/--key file are handed in from outside (the host cannot see the repository).
run_setup() {
    local h=$1 R=$state/$1 ip args=() hp out rc; shift
    ip=$(host_ip "$h")
    install -d -m 0700 "$R/etc/.stage"
    while (($#)); do
        case $1 in
            --ca|--cert|--key)
                [[ -r ${2:-} ]] || die "$1: cannot read ${2:-}"
                install -m 0600 "$2" "$R/etc/.stage/${1#--}.pem"
                args+=("$1" "/etc/libvirt/.stage/${1#--}.pem"); shift 2 ;;
            *) args+=("$1"); shift ;;
        esac
    done
    hp=$(holder_pid "$h"); [[ -n $hp ]] || die "host $h is not up (no holder process)"
    rc=0
    out=$(nsenter -t "$hp" -m -u -n --wd=/ -- bash /dev/fd/3 --no-install --test-host \
            --listen "$ip" --run-dir "$host_run" "${args[@]}" \
            3<"$repo/scripts/setup-node.sh" </dev/null 2>"$R/setup.last") || rc=$?
    rm -rf "$R/etc/.stage"
    cat "$R/setup.last" >> "$R/setup.log"
    sed "s/^/  $h: /" "$R/setup.last" >&2
    ((rc == 0)) || die "setup-node.sh failed in $h (exit $rc; log: $R/setup.log)"
    say "$h: $out"
}

host_up() {
    local h=$1 ip=$2 pki=$3 R=$state/$1 hp line hide
    shift 3
    mkdir -p "$R"/{etc,run,lib,log,cache,vbatch}
    # A private /etc/libvirt: the machine's configuration, without its guests, pools,
    # secrets, autostarted networks, TLS files and host UUID.
    cp -a /etc/libvirt/. "$R/etc/"
    rm -rf "$R/etc/storage" "$R/etc/qemu/autostart" "$R/etc/pki" "$R/etc/.stage"
    find "$R/etc/qemu" -maxdepth 1 -name '*.xml' -delete 2>/dev/null || true
    find "$R/etc/qemu/networks/autostart" "$R/etc/secrets" -mindepth 1 -delete 2>/dev/null || true
    sed -i -E '/^[[:space:]]*host_uuid[[:space:]]*=/d' "$R/etc/libvirtd.conf"
    # QEMU's capabilities, probed once on this machine already (libvirt re-probes if stale).
    if [[ -d /var/cache/libvirt/qemu/capabilities ]]; then
        mkdir -p "$R/cache/qemu"; cp -a /var/cache/libvirt/qemu/capabilities "$R/cache/qemu/"
    fi

    ip netns add "$h"
    ip link add "v$h" type veth peer name eth0 netns "$h"
    ip link set "v$h" master "$bridge" up
    ip -n "$h" addr add "$ip/24" dev eth0
    ip -n "$h" link set eth0 up
    ip -n "$h" link set lo up

    setsid ip netns exec "$h" unshare --mount --uts --propagation private \
        bash -c "$holder_script" holder "$h" "$R" "$@" </dev/null >"$R/holder.log" 2>&1 &
    hp=
    for _ in $(seq 100); do
        line=$(grep -m1 '^ready ' "$R/holder.log" 2>/dev/null || true)
        [[ -n $line ]] && { hp=${line#ready }; break; }
        sleep 0.05
    done
    [[ -n $hp ]] || { cat "$R/holder.log" >&2; die "host $h: the namespace holder did not start"; }
    echo "$hp" > "$R/holder.pid"
    [[ -s $R/holder.log && "$(grep -vc '^ready ' "$R/holder.log")" != 0 ]] && sed '/^ready /d; s/^/  /' "$R/holder.log" >&2

    run_setup "$h" --ca "$pki/hosts/$ip/cacert.pem" --cert "$pki/hosts/$ip/servercert.pem" \
        --key "$pki/hosts/$ip/serverkey.pem"
}

dead_up() {
    local m=$1 k
    ip netns add "$dead_ns"
    ip link add "v$dead_ns" type veth peer name eth0 netns "$dead_ns"
    ip link set "v$dead_ns" master "$bridge" up
    ip -n "$dead_ns" addr add "$dead_addr/24" dev eth0
    ip -n "$dead_ns" link set eth0 up
    ip -n "$dead_ns" link set lo up
    for ((k = 1; k <= m; k++)); do echo "address add $dead_net.$k/32 dev lo"; done | ip -n "$dead_ns" -batch -
    # Drop (not reject) every incoming TCP packet: SYNs go unanswered, connects hang.
    if command -v iptables >/dev/null && ip netns exec "$dead_ns" iptables -w -A INPUT -p tcp -j DROP 2>/dev/null; then
        :
    else
        if ! command -v nft >/dev/null; then
            say "installing nftables (no usable iptables)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null \
                || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null; }
        fi
        ip netns exec "$dead_ns" nft -f - <<'EOF'
table inet vbatch_dead {
    chain input { type filter hook input priority 0; policy accept; meta l4proto tcp drop; }
}
EOF
    fi
    ip route replace "$dead_net.0/24" via "$dead_addr" dev "$bridge"
}

write_env() { # PKI DEAD HOSTS...
    local pki=$1 dead=$2 hosts=() deads=() h k; shift 2
    for h in "$@"; do hosts+=("$h=$(host_ip "$h")"); done
    for ((k = 1; k <= dead; k++)); do deads+=("$dead_net.$k"); done
    {
        echo "VBATCH_TEST_HOSTS=\"${hosts[*]}\""
        echo "VBATCH_TEST_PKI=\"$pki\""
        echo "VBATCH_TEST_DEAD=\"${deads[*]}\""
        echo "VBATCH_TEST_HOSTS_CTL=\"$self\""
    } > "$state/env.new"
    mv -f "$state/env.new" "$state/env"
}

cmd_up() {
    need_root
    local n=3 pki='' dead=0 i hosts=() ips=() hide=() d
    while (($#)); do
        case $1 in
            --pki) pki=${2:?--pki needs a directory}; shift 2 ;;
            --dead) dead=${2:?--dead needs a count}; shift 2 ;;
            [0-9]*) n=$1; shift ;;
            *) usage ;;
        esac
    done
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 200)) || die "N must be 1..200"
    [[ $dead =~ ^[0-9]+$ ]] && ((dead <= 254)) || die "--dead M must be 0..254"
    for c in ip nsenter unshare setsid libvirtd virtlogd virsh openssl; do
        command -v "$c" >/dev/null || die "$c is missing (scripts/setup-libvirt.sh installs libvirt)"
    done
    if stale; then say "something is left from before: down first"; cmd_down; fi
    if ip -o addr show | grep -qE ' inet 10\.77\.[01]\.'; then
        die "10.77.0.0/24 or 10.77.1.0/24 is already in use on this machine: $(ip -o addr show | grep -E ' inet 10\.77\.[01]\.' | awk '{print $2, $4}' | head -3 | tr '\n' ' ')"
    fi
    install -d -m 0700 "$state"
    [[ -n $pki ]] || pki=$state/pki
    mkdir -p "$pki"; pki=$(cd "$pki" && pwd)
    for ((i = 1; i <= n; i++)); do hosts+=("wn$i"); ips+=("$(host_ip "wn$i")"); done
    "$repo/scripts/make-test-pki.sh" "$pki" "${ips[@]}"

    # What a host must not see. The host's own directories are bind mounts by then.
    hide=(/tmp /var/tmp /dev/shm /root "$repo" "$state" "$pki")
    for d in ${VBATCH_TEST_HOSTS_HIDE:-}; do hide+=("$d"); done

    ip link add "$bridge" type bridge
    ip addr add "$bridge_addr/24" dev "$bridge"
    ip link set "$bridge" up
    mkdir -p /var/lib/vbatch    # the mount point of each host's own /var/lib/vbatch

    for ((i = 1; i <= n; i++)); do host_up "wn$i" "${ips[i-1]}" "$pki" "${hide[@]}"; done
    ((dead)) && dead_up "$dead"
    printf '%s\n' "${hosts[@]}" > "$state/hosts"
    echo "$dead" > "$state/dead"
    write_env "$pki" "$dead" "${hosts[@]}"
    say "up: ${hosts[*]}$( ((dead)) && echo ", $dead dead addresses $dead_net.1-$dead_net.$dead")"
    cat "$state/env"
}

# --- the rest ---------------------------------------------------------------------------
known_host() { [[ $1 =~ ^wn[0-9]+$ && -d $state/$1 ]] || die "no such test host: $1 (see: $0 status)"; }

cmd_status() {
    local ok=1 h hp lp name hosts=()
    if [[ -f $state/hosts ]]; then
        mapfile -t hosts < "$state/hosts"
    else
        for h in "$state"/wn*; do [[ -d $h ]] && hosts+=("${h##*/}"); done
        ((${#hosts[@]})) || { echo "no test hosts are up"; return 1; }
        echo "incomplete: \`up' did not finish (\`down' cleans up)"; ok=0
    fi
    for h in "${hosts[@]}"; do
        hp=$(holder_pid "$h")
        lp=$(pid_from "$state/$h/run/vbatch-node/libvirtd.pid")
        [[ -n $lp ]] && ! ours_to_kill "$lp" libvirtd && lp=
        name=
        [[ -n $hp ]] && name=$(timeout 10 nsenter -t "$hp" -m -u -n -- virsh -q -c qemu:///system hostname 2>/dev/null || true)
        if [[ -n $hp && -n $lp && $name == "$h" ]]; then
            echo "$h $(host_ip "$h") up (holder $hp, libvirtd $lp)"
        else
            ok=0; echo "$h $(host_ip "$h") NOT WELL (holder ${hp:-none}, libvirtd ${lp:-none}, answers: ${name:-no})"
        fi
    done
    if [[ "$(cat "$state/dead" 2>/dev/null || echo 0)" != 0 ]]; then
        if [[ -e /run/netns/$dead_ns ]]; then echo "$dead_ns $dead_addr up ($(cat "$state/dead") dead addresses)"
        else ok=0; echo "$dead_ns MISSING"; fi
    fi
    ((ok))
}

cmd_env() {
    [[ -f $state/env ]] || die "no test hosts are up ($0 up)"
    cat "$state/env"
}

cmd_stop() {
    need_root
    local h=${1:?stop needs a host} sig=TERM p
    known_host "$h"
    [[ ${2:-} == --kill ]] && sig=KILL
    p=$(pid_from "$state/$h/run/vbatch-node/libvirtd.pid")
    if [[ -n $p ]] && ours_to_kill "$p" libvirtd; then
        kill_wait "$sig" "$p"
        say "$h: libvirtd $p stopped (SIG$sig)"
    else
        say "$h: libvirtd is not running"
    fi
}

cmd=${1:-}; (($#)) && shift
case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    exec) need_root; h=${1:?exec needs a host}; shift; known_host "$h"; (($#)) || set -- bash; in_host "$h" "$@" ;;
    stop) cmd_stop "$@" ;;
    start|setup) need_root; h=${1:?start needs a host}; shift; known_host "$h"; run_setup "$h" "$@" ;;
    *) usage ;;
esac
