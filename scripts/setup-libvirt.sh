#!/usr/bin/env bash
# Installs and starts libvirt with QEMU on this machine, idempotently, without systemd:
# packages, qemu.conf (root, no security driver), virtlogd and libvirtd as daemons.
set -euo pipefail

packages=(libvirt-dev libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq -o Dpkg::Options::=--force-confnew "${missing[@]}" >/dev/null
fi

conf=/etc/libvirt/qemu.conf
set_conf() { # key value
    if grep -qE "^$1 *=" "$conf"; then
        sed -i -E "s|^$1 *=.*|$1 = $2|" "$conf"
    else
        echo "$1 = $2" >> "$conf"
    fi
}
changed=$(md5sum "$conf")
set_conf user '"root"'
set_conf group '"root"'
set_conf security_driver '"none"'
[[ $(md5sum "$conf") == "$changed" ]] && restart=0 || restart=1

# This machine's own daemons, by their pid files: test worker nodes (scripts/test-hosts.sh)
# run daemons of the same names in their own namespaces, which must be left alone.
running() { # NAME: the pid of this machine's NAME daemon, if it runs
    local pid
    pid=$(cat "/run/$1.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] \
        && [[ $(readlink "/proc/$pid/ns/net") == "$(readlink /proc/self/ns/net)" ]] && echo "$pid"
}
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/images
running virtlogd >/dev/null || virtlogd -d
if ((restart)) && pid=$(running libvirtd); then
    echo "setup: restarting libvirtd for the new qemu.conf"
    kill "$pid"
    for _ in $(seq 50); do running libvirtd >/dev/null || break; sleep 0.1; done
fi
running libvirtd >/dev/null || libvirtd -d
for _ in $(seq 100); do
    [[ -S /var/run/libvirt/libvirt-sock ]] && virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.1
done
virsh -c qemu:///system version >/dev/null 2>&1 || { echo "setup: libvirtd does not answer" >&2; exit 1; }
echo "setup: libvirtd is up ($(virsh -c qemu:///system version 2>/dev/null | grep -m1 'Running hypervisor' | sed 's/.*: //'))"
