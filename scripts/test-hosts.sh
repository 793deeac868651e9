#!/usr/bin/env bash
# test-hosts.sh — several vbatch worker nodes (libvirtd hosts) on this one machine, and a grid
# CE host that reaches vbatchd through `vbatch relay`, for tests.
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
#   test-hosts.sh up [N] [--pki DIR] [--dead M] [--ce]
#                                                 N hosts (default 3), with --ce also the CE
#                                                 host ce1; runs `down` first if anything is
#                                                 left from before
#   test-hosts.sh down                            removes everything (safe when nothing is up)
#   test-hosts.sh status                          one line per host; exit 1 if one is not well
#   test-hosts.sh env                             the shell assignments the tests read
#   test-hosts.sh exec wnI|ce1 [CMD...]           runs CMD (default: bash) inside that host
#   test-hosts.sh stop wnI [--kill]               stops wnI's libvirtd (SIGTERM, or SIGKILL
#                                                 to look like a crash); its guests keep running
#   test-hosts.sh start wnI [setup-node options]  (re)runs setup-node.sh inside wnI, e.g. with
#                                                 --ca/--cert/--key to give it other certificates
#                                                 (files are copied in; the host cannot see yours)
#   test-hosts.sh ce-install ce1 BIN_DIR          copies BIN_DIR/vbatch and BIN_DIR/vbatch-relay,
#                                                 scripts/setup-ce.sh, install-ce-commands.sh,
#                                                 blah/*.sh and the relays' test certificates
#                                                 into ce1's /opt/vbatch (see below)
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
#   --ce: a grid CE host ce1 (no libvirtd), to run `vbatch relay`, qsub and the BLAH scripts
#   against a vbatchd whose TLS API listens on the bridge address 10.77.0.1: netns ce1 at
#   10.77.0.5, veth vce1, hostname ce1; private root /var/lib/vbatch-test-hosts/ce1/
#   {run,log,etc-vbatch,opt,usr-local} bind-mounted over /run, /var/log, /etc/vbatch,
#   /opt/vbatch and /usr/local (so setup-ce.sh's default prefix installs into ce1 only; the
#   mount points /etc/vbatch and /opt/vbatch are made on this machine if missing and removed
#   by `down` if still empty), and ce1/{passwd,group,shadow,gshadow,hosts} over those files in
#   /etc: copies of this machine's plus accounts that exist in ce1 only
#     group vbce-atlas 5100: vbce-atlas001 uid 5101, vbce-atlas002 uid 5102
#     group vbce-ops 5190:   vbce-oper uid 5191
#   (home /nonexistent, shell /bin/sh, password locked) and "10.77.0.5 ce1". The same hiding
#   as the worker hosts, and an empty tmpfs over /var/lib/vbatch too. Its relay's pid file (setup-ce.sh --start) is ce1/run/vbatch/relay.pid
#   here; `down` ends everything in ce1's network namespace, SIGTERM first (a relay then
#   removes its socket), SIGKILL after 10 s.
#   `ce-install ce1 BIN_DIR` fills ce1's /opt/vbatch (replacing what an earlier call put there):
#     /opt/vbatch/bin/vbatch, vbatch-relay          the binaries to install (setup-ce.sh --vbatch)
#     /opt/vbatch/src/scripts/setup-ce.sh, install-ce-commands.sh, blah/*.sh
#     /opt/vbatch/pki/ca/cacert.pem, cakey.pem      the test CA (setup-ce.sh --make-certificate)
#     /opt/vbatch/pki/clients/NAME/, rogue-clients/NAME/   the relays' certificates (below)
#   With --ce, make-test-pki.sh also gets --client ce1 --client ce-unlisted (a relay vbatchd
#   does not list). The PKI always has DIR/hosts/10.77.0.1/: vbatchd's TLS API certificate.
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
#     VBATCH_TEST_CE="ce1=10.77.0.5"                   (empty without --ce)
#     VBATCH_TEST_API_ADDR="10.77.0.1"                 (where vbatchd's TLS API listens in tests)
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
ce_name=ce1 ce_addr=10.77.0.5
ce_clients=(ce1 ce-unlisted)        # make-test-pki.sh --client, with --ce
# The CE-only accounts: groups NAME:GID, users NAME:UID:GROUP.
ce_groups=(vbce-atlas:5100 vbce-ops:5190)
ce_users=(vbce-atlas001:5101:vbce-atlas vbce-atlas002:5102:vbce-atlas vbce-oper:5191:vbce-ops)
ce_mountpoints=(/etc/vbatch /opt/vbatch)   # made on this machine if missing (see `down`)
host_run=/run/libvirt/vbatch-node   # setup-node.sh --run-dir, inside a host

say() { echo "test-hosts: $*" >&2; }
die() { echo "test-hosts: error: $*" >&2; exit 1; }
usage() { sed -n '/^# Usage/,/^# Layout/p' "$self" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

need_root() { ((EUID == 0)) || die "must run as root"; }
host_ip() { if [[ $1 == "$ce_name" ]]; then echo "$ce_addr"; else echo "10.77.0.$((10 + ${1#wn}))"; fi; }

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

# ce_down: everything in ce1's network namespace (a relay, commands still running, the
# holder): SIGTERM first so that a relay removes its socket, then SIGKILL.
ce_down() {
    local h=$ce_name hp p pids=()
    hp=$(holder_pid "$h")
    if [[ -e /run/netns/$h ]]; then
        for p in $(ip netns pids "$h" 2>/dev/null || true); do
            [[ $p != "$hp" ]] && ours_to_kill "$p" && pids+=("$p")
        done
        kill_wait TERM "${pids[@]}"
        pids=()
        for p in $(ip netns pids "$h" 2>/dev/null || true); do ours_to_kill "$p" && pids+=("$p"); done
    fi
    [[ -n $hp && " ${pids[*]} " != *" $hp "* ]] && pids+=("$hp")
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
    if [[ -d $state/$ce_name || -e /run/netns/$ce_name ]]; then ce_down; hosts+=("$ce_name"); fi
    # Veths of hosts whose namespace is already gone.
    for h in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^v(wn[0-9]+|$ce_name)\$" || true); do
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
        # The mount points `up --ce` made on this machine, if nothing has been put there since.
        if [[ -f $state/mountpoints ]]; then
            while read -r m; do
                [[ " ${ce_mountpoints[*]} " == *" $m "* && -d $m ]] || continue
                mountpoint -q "$m" || rmdir "$m" 2>/dev/null || true
            done < "$state/mountpoints"
        fi
        rm -rf --one-file-system "$state"
    fi
    ((${#hosts[@]})) && say "down: removed ${hosts[*]}" || true
}

stale() {
    [[ -e $state ]] && return 0
    ip link show "$bridge" >/dev/null 2>&1 && return 0
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qE "^(wn[0-9]+|$dead_ns|$ce_name)$"
}

# --- up ---------------------------------------------------------------------------------
# The holder: runs inside `ip netns exec wnI unshare --mount --uts --propagation private`,
# makes the host's mounts, hides the daemon's directories, then becomes `sleep infinity`.
# Arguments: NAME ROOT BINDS DIR-TO-HIDE..., BINDS a space-separated list of ENTRY:PATH (ROOT/ENTRY,
# a directory or a file, is bind-mounted over PATH).
holder_script='
set -eu
h=$1 R=$2 binds=$3; shift 3
hostname "$h"
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

# ns_up NAME IP: network namespace NAME with eth0 at IP/24 on the bridge (veth vNAME).
ns_up() {
    local h=$1 ip=$2
    ip netns add "$h"
    ip link add "v$h" type veth peer name eth0 netns "$h"
    ip link set "v$h" master "$bridge" up
    ip -n "$h" addr add "$ip/24" dev eth0
    ip -n "$h" link set eth0 up
    ip -n "$h" link set lo up
}

# holder_up NAME BINDS DIR-TO-HIDE...: the holder of host NAME (see holder_script).
holder_up() {
    local h=$1 binds=$2 R=$state/$1 hp line
    shift 2
    setsid ip netns exec "$h" unshare --mount --uts --propagation private \
        bash -c "$holder_script" holder "$h" "$R" "$binds" "$@" </dev/null >"$R/holder.log" 2>&1 &
    hp=
    for _ in $(seq 100); do
        line=$(grep -m1 '^ready ' "$R/holder.log" 2>/dev/null || true)
        [[ -n $line ]] && { hp=${line#ready }; break; }
        sleep 0.05
    done
    [[ -n $hp ]] || { cat "$R/holder.log" >&2; die "host $h: the namespace holder did not start"; }
    echo "$hp" > "$R/holder.pid"
    [[ -s $R/holder.log && "$(grep -vc '^ready ' "$R/holder.log")" != 0 ]] && sed '/^ready /d; s/^/  /' "$R/holder.log" >&2
    return 0
}

host_up() {
    local h=$1 ip=$2 pki=$3 R=$state/$1
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

    ns_up "$h" "$ip"
    holder_up "$h" "etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt vbatch:/var/lib/vbatch" "$@"

    run_setup "$h" --ca "$pki/hosts/$ip/cacert.pem" --cert "$pki/hosts/$ip/servercert.pem" \
        --key "$pki/hosts/$ip/serverkey.pem"
}

# ce_accounts R: R/passwd, group, shadow, gshadow, hosts: this machine's files plus ce1's own
# accounts (locked passwords: for setpriv, runuser, su from root) and name. Refuses when an
# account's name or number is taken here already.
ce_accounts() {
    local R=$1 g u name id grp gid f
    for f in passwd group shadow gshadow hosts; do
        if [[ -f /etc/$f ]]; then cp -p "/etc/$f" "$R/$f.new"; else : > "$R/$f.new"; fi
    done
    for g in "${ce_groups[@]}"; do
        name=${g%%:*} id=${g#*:}
        awk -F: -v n="$name" -v i="$id" '$1 == n || $3 == i {found = 1} END {exit !found}' /etc/group \
            && die "--ce: group $name or gid $id exists on this machine already (edit ce_groups in $self)"
        echo "$name:x:$id:" >> "$R/group.new"
        echo "$name:!::" >> "$R/gshadow.new"
    done
    for u in "${ce_users[@]}"; do
        IFS=: read -r name id grp <<< "$u"
        awk -F: -v n="$name" -v i="$id" '$1 == n || $3 == i {found = 1} END {exit !found}' /etc/passwd \
            && die "--ce: user $name or uid $id exists on this machine already (edit ce_users in $self)"
        gid=$(awk -F: -v n="$grp" '$1 == n {print $3}' "$R/group.new")
        echo "$name:x:$id:$gid:vbatch CE test account:/nonexistent:/bin/sh" >> "$R/passwd.new"
        echo "$name:!:$(($(date +%s) / 86400)):0:99999:7:::" >> "$R/shadow.new"
    done
    printf '%s\t%s\n' "$ce_addr" "$ce_name" >> "$R/hosts.new"
    for f in passwd group hosts; do chmod 0644 "$R/$f.new"; done
    for f in passwd group shadow gshadow hosts; do mv -f "$R/$f.new" "$R/$f"; done
}

# ce_up HIDE...: the CE host ce1 (no libvirtd).
ce_up() {
    local h=$ce_name R=$state/$ce_name m name
    mkdir -p "$R"
    install -d -m 0755 "$R"/{run,log,etc-vbatch,opt,usr-local}
    install -d -m 0755 "$R"/usr-local/{bin,etc,games,include,lib,libexec,sbin,share,src}
    ce_accounts "$R"
    for m in "${ce_mountpoints[@]}"; do
        [[ -e $m ]] && continue
        mkdir -p "$m"; echo "$m" >> "$state/mountpoints"
    done
    ns_up "$h" "$ce_addr"
    holder_up "$h" "run:/run log:/var/log etc-vbatch:/etc/vbatch opt:/opt/vbatch usr-local:/usr/local passwd:/etc/passwd group:/etc/group shadow:/etc/shadow gshadow:/etc/gshadow hosts:/etc/hosts" "$@"
    name=$(in_host "$h" sh -c 'hostname; id -u vbce-atlas001 2>/dev/null' | tr '\n' ' ')
    [[ $name == "$h 5101 " ]] || die "$h: hostname or accounts not as expected inside it: $name"
    say "$h: up at $ce_addr (no libvirtd; \`$self ce-install $h BIN_DIR' copies the binaries in)"
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

write_env() { # PKI DEAD CE HOSTS...  (CE: ce1 or empty)
    local pki=$1 dead=$2 ce=$3 hosts=() deads=() h k; shift 3
    for h in "$@"; do hosts+=("$h=$(host_ip "$h")"); done
    for ((k = 1; k <= dead; k++)); do deads+=("$dead_net.$k"); done
    {
        echo "VBATCH_TEST_HOSTS=\"${hosts[*]}\""
        echo "VBATCH_TEST_PKI=\"$pki\""
        echo "VBATCH_TEST_DEAD=\"${deads[*]}\""
        echo "VBATCH_TEST_HOSTS_CTL=\"$self\""
        echo "VBATCH_TEST_CE=\"${ce:+$ce=$ce_addr}\""
        echo "VBATCH_TEST_API_ADDR=\"$bridge_addr\""
    } > "$state/env.new"
    mv -f "$state/env.new" "$state/env"
}

cmd_up() {
    need_root
    local n=3 pki='' dead=0 ce='' i hosts=() ips=() hide=() d pki_args=()
    while (($#)); do
        case $1 in
            --pki) pki=${2:?--pki needs a directory}; shift 2 ;;
            --dead) dead=${2:?--dead needs a count}; shift 2 ;;
            --ce) ce=$ce_name; shift ;;
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
    pki_args=("$pki" "${ips[@]}" "$bridge_addr")      # the bridge address: vbatchd's TLS API
    if [[ -n $ce ]]; then for d in "${ce_clients[@]}"; do pki_args+=(--client "$d"); done; fi
    "$repo/scripts/make-test-pki.sh" "${pki_args[@]}"

    # What a host must not see. The host's own directories are bind mounts by then.
    hide=(/tmp /var/tmp /dev/shm /root "$repo" "$state" "$pki")
    for d in ${VBATCH_TEST_HOSTS_HIDE:-}; do hide+=("$d"); done

    ip link add "$bridge" type bridge
    ip addr add "$bridge_addr/24" dev "$bridge"
    ip link set "$bridge" up
    mkdir -p /var/lib/vbatch    # the mount point of each host's own /var/lib/vbatch

    for ((i = 1; i <= n; i++)); do host_up "wn$i" "${ips[i-1]}" "$pki" "${hide[@]}"; done
    ((dead)) && dead_up "$dead"
    [[ -n $ce ]] && ce_up "${hide[@]}" /var/lib/vbatch    # (the workers' is a private bind mount)
    printf '%s\n' "${hosts[@]}" > "$state/hosts"
    echo "$dead" > "$state/dead"
    echo "$ce" > "$state/ce"
    write_env "$pki" "$dead" "$ce" "${hosts[@]}"
    say "up: ${hosts[*]}${ce:+ $ce}$( ((dead)) && echo ", $dead dead addresses $dead_net.1-$dead_net.$dead")"
    cat "$state/env"
}

# --- the rest ---------------------------------------------------------------------------
# known_host NAME [worker]: NAME is up (a worker host wnI, or also ce1 unless "worker").
known_host() {
    if [[ $1 == "$ce_name" && -z ${2:-} ]]; then
        [[ -d $state/$1 ]] || die "$1 is not up ($0 up N --ce)"
        return 0
    fi
    [[ $1 == "$ce_name" ]] && die "$1 is a CE host, without libvirtd"
    [[ $1 =~ ^wn[0-9]+$ && -d $state/$1 ]] || die "no such test host: $1 (see: $0 status)"
}

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
    if [[ -n "$(cat "$state/ce" 2>/dev/null)" || ( ! -f $state/ce && -d $state/$ce_name ) ]]; then
        hp=$(holder_pid "$ce_name")
        lp=$(pid_from "$state/$ce_name/run/vbatch/relay.pid")
        [[ -n $lp ]] && ! ours_to_kill "$lp" 'vbatch*' && lp=
        name=
        [[ -n $hp ]] && name=$(timeout 10 nsenter -t "$hp" -m -u -n -- hostname 2>/dev/null || true)
        if [[ -n $hp && $name == "$ce_name" ]]; then
            echo "$ce_name $ce_addr up (holder $hp, relay ${lp:-not running})"
        else
            ok=0; echo "$ce_name $ce_addr NOT WELL (holder ${hp:-none}, hostname: ${name:-none})"
        fi
    fi
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
    known_host "$h" worker
    [[ ${2:-} == --kill ]] && sig=KILL
    p=$(pid_from "$state/$h/run/vbatch-node/libvirtd.pid")
    if [[ -n $p ]] && ours_to_kill "$p" libvirtd; then
        kill_wait "$sig" "$p"
        say "$h: libvirtd $p stopped (SIG$sig)"
    else
        say "$h: libvirtd is not running"
    fi
}

# place SRC DEST MODE: DEST gets SRC's content and MODE, rewritten (atomically) only if it differs.
place() {
    if [[ -f $2 && ! -L $2 ]] && cmp -s "$1" "$2"; then chmod "$3" "$2"; return 0; fi
    install -m "$3" "$1" "$2.new"
    mv -f "$2.new" "$2"
}

# mirror DEST MODE SRC...: directory DEST holds the files SRC... (by their base names; *key.pem
# with mode 0600) and no other file (its subdirectories are left alone).
mirror() {
    local dest=$1 mode=$2 f keep=(); shift 2
    install -d -m 0755 "$dest"
    for f in "$@"; do
        if [[ $f == *key.pem ]]; then place "$f" "$dest/${f##*/}" 0600; else place "$f" "$dest/${f##*/}" "$mode"; fi
        keep+=("${f##*/}")
    done
    for f in "$dest"/* "$dest"/.[!.]*; do
        [[ ( -e $f || -L $f ) && ! ( -d $f && ! -L $f ) ]] || continue
        [[ " ${keep[*]} " == *" ${f##*/} "* ]] || rm -f "$f"
    done
}

cmd_ce_install() {
    need_root
    local h=${1:?ce-install needs a host (ce1)} bin=${2:?ce-install needs the directory of the built binaries} O pki d n names=()
    [[ $h == "$ce_name" ]] || die "ce-install: $h is not a CE host (only $ce_name is)"
    known_host "$h"
    [[ -n $(holder_pid "$h") ]] || die "$h is not up (no holder process)"
    [[ -x $bin/vbatch ]] || die "ce-install: no executable vbatch in $bin (build first)"
    O=$state/$h/opt                      # /opt/vbatch inside the host
    pki=$(sed -n 's/^VBATCH_TEST_PKI="\(.*\)"$/\1/p' "$state/env" 2>/dev/null || true)
    [[ -n $pki && -d $pki ]] || die "ce-install: no test PKI (is \`up' finished? $state/env)"

    if [[ -x $bin/vbatch-relay ]]; then
        mirror "$O/bin" 0755 "$bin/vbatch" "$bin/vbatch-relay"
    else
        say "warning: no vbatch-relay in $bin: \`vbatch relay' will not work in $h (installing vbatch alone)"
        mirror "$O/bin" 0755 "$bin/vbatch"
    fi
    install -d -m 0755 "$O/src"
    mirror "$O/src/scripts" 0755 "$repo/scripts/setup-ce.sh" "$repo/scripts/install-ce-commands.sh"
    mirror "$O/src/scripts/blah" 0755 "$repo"/scripts/blah/*.sh
    install -d -m 0755 "$O/pki"
    mirror "$O/pki/ca" 0644 "$pki/ca/cacert.pem" "$pki/ca/cakey.pem"
    for d in clients rogue-clients; do
        names=()
        for n in "$pki/$d"/*/; do [[ -d $n ]] && names+=("$(basename "$n")"); done
        install -d -m 0755 "$O/pki/$d"
        for n in "$O/pki/$d"/*/; do     # clients the PKI no longer has
            [[ -d $n && " ${names[*]} " != *" $(basename "$n") "* ]] && rm -rf "${n%/}"
        done
        for n in "${names[@]}"; do
            mirror "$O/pki/$d/$n" 0644 "$pki/$d/$n/cacert.pem" "$pki/$d/$n/clientcert.pem" "$pki/$d/$n/clientkey.pem"
        done
    done
    chmod 0755 "$O"
    say "$h: /opt/vbatch/bin: $(cd "$O/bin" && echo *); /opt/vbatch/src/scripts: setup-ce.sh install-ce-commands.sh blah/; /opt/vbatch/pki: ca clients rogue-clients"
}

cmd=${1:-}; (($#)) && shift
case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    exec) need_root; h=${1:?exec needs a host}; shift; known_host "$h"; (($#)) || set -- bash; in_host "$h" "$@" ;;
    stop) cmd_stop "$@" ;;
    start|setup) need_root; h=${1:?start needs a host}; shift; known_host "$h" worker; run_setup "$h" "$@" ;;
    ce-install) cmd_ce_install "$@" ;;
    *) usage ;;
esac
