#!/usr/bin/env bash
# Builds the vbatch test guest from Debian packages only: OUTDIR/vmlinuz (Debian's cloud
# kernel) and OUTDIR/initrd.img (busybox-static, a few kernel modules with a modules.dep
# made by kmod's depmod, /init, and the guest agent images/vbatch-guest).
#
#   images/testguest/build.sh [OUTDIR]        (default: images/testguest/out)
#
# Idempotent: does nothing when OUTDIR is newer than every input (this script, init,
# power-button, ../vbatch-guest, the cached .debs) and was built from the same package
# versions. Downloaded .debs are kept in images/testguest/cache/. Needs apt-get/apt-cache
# (Debian), dpkg-deb and gzip. Runs without root too (the initramfs then has no
# /dev/console node; /init reopens the console itself).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:-$here/out}
cache=$here/cache
agent=$here/../vbatch-guest
# Modules the guest loads (modprobe resolves their dependencies from modules.dep):
# virtio disks (cold and hot-plugged), ISO 9660 for a cloud-init cidata disk, and the
# ACPI power button with evdev so busybox acpid sees the host's ACPI shutdown.
modules=(virtio_pci virtio_blk isofs button evdev)

say() { printf 'testguest: %s\n' "$*"; }
die() { printf 'testguest: error: %s\n' "$*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg-deb gzip find sort; do
    command -v "$tool" >/dev/null || die "'$tool' not found (this script needs Debian's apt and dpkg)"
done
[ -r "$agent" ] || die "guest agent not found: $agent"
mkdir -p "$cache" "$outdir" 2>/dev/null || die "cannot create $cache or $outdir"
outdir=$(cd "$outdir" && pwd)

# --- resolve package versions (from the local apt lists; cached .debs when offline) ---
# One apt-cache call: the candidate versions of the meta package (whose Depends names the
# versioned kernel package and its version), busybox-static and kmod.
# deb_name PKG VERSION: the file name apt-get download gives (epoch ':' as %3a).
deb_name() { printf '%s_%s_amd64.deb' "$1" "${2//:/%3a}"; }
# cached PKG: the newest cached .deb of PKG (for offline rebuilds).
cached() { find "$cache" -maxdepth 1 -name "$1_*_amd64.deb" | sort -V | tail -n 1; }

declare -A version=()
while read -r pkg ver; do version[$pkg]=$ver; done < <(
    apt-cache show --no-all-versions linux-image-cloud-amd64 busybox-static kmod 2>/dev/null \
    | awk '/^Package: /{p=$2} /^Version: /{print p, $2}
           p=="linux-image-cloud-amd64" && /^Depends: /{
               if (match($0, /linux-image-6\.1\.[^ ,]*-cloud-amd64 \(= [^)]*\)/)) {
                   d=substr($0, RSTART, RLENGTH); gsub(/[()=]/, "", d); print d } }'
)
kpkg=
for p in "${!version[@]}"; do
    case $p in linux-image-6.1.*-cloud-amd64) kpkg=$p ;; esac
done
if [ -z "$kpkg" ]; then
    # No apt lists (apt-get update never ran): fall back to the cache.
    k=$(cached 'linux-image-6.1.*-cloud-amd64')
    [ -n "$k" ] || die "cannot resolve linux-image-cloud-amd64 (run 'apt-get update' first)"
    kpkg=$(basename "$k"); kpkg=${kpkg%%_*}
    say "apt cannot resolve linux-image-cloud-amd64; using the cached $kpkg"
fi

debs=()
for pkg in "$kpkg" busybox-static kmod; do
    ver=${version[$pkg]:-}
    if [ -n "$ver" ]; then
        deb=$cache/$(deb_name "$pkg" "$ver")
        if [ ! -s "$deb" ]; then
            say "downloading $pkg $ver"
            # apt-get download writes into the current directory.
            (cd "$cache" && apt-get download -q "$pkg=$ver" >/dev/null 2>"$cache/.apt.err") \
                || { cat "$cache/.apt.err" >&2; rm -f "$deb"; die "apt-get download $pkg=$ver failed"; }
            rm -f "$cache/.apt.err"
            [ -s "$deb" ] || die "apt-get download did not produce $deb"
            # Drop older cached versions of the same package.
            find "$cache" -maxdepth 1 -name "${pkg}_*_amd64.deb" ! -name "$(basename "$deb")" -delete
        fi
    else
        deb=$(cached "$pkg")
        [ -n "$deb" ] || die "no candidate for $pkg and nothing cached (run 'apt-get update' first)"
    fi
    debs+=("$deb")
done

# --- up to date? ---
stamp=$outdir/.inputs
want=$(for d in "${debs[@]}"; do basename "$d"; done)
inputs=("${debs[@]}" "${BASH_SOURCE[0]}" "$here/init" "$here/power-button" "$agent")
if [ -s "$outdir/vmlinuz" ] && [ -s "$outdir/initrd.img" ] && [ -f "$stamp" ] \
    && [ "$(cat "$stamp")" = "$want" ] \
    && [ -z "$(find "${inputs[@]}" -newer "$outdir/initrd.img" 2>/dev/null)" ]; then
    say "up to date: $outdir ($kpkg)"
    exit 0
fi

# --- unpack ---
work=$(mktemp -d "${TMPDIR:-/tmp}/vbatch-testguest.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "unpacking $(for d in "${debs[@]}"; do basename "$d"; done | tr '\n' ' ')"
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$work/pkgs"; done
pk=$work/pkgs
kver=$(cd "$pk/lib/modules" && ls | head -n 1)
[ -n "$kver" ] && [ -f "$pk/boot/vmlinuz-$kver" ] || die "no kernel found in $kpkg"
bb=$pk/bin/busybox
[ -x "$bb" ] || die "busybox-static did not provide /bin/busybox"
# kmod is a multi-call binary chosen by argv[0]: depmod and modprobe are links to it.
mkdir -p "$work/tools"
ln -s "$pk/bin/kmod" "$work/tools/depmod"
ln -s "$pk/bin/kmod" "$work/tools/modprobe"
"$work/tools/depmod" -V >/dev/null 2>&1 || die "kmod's depmod does not run on this host"

# --- modules: the wanted ones and their dependencies, resolved by kmod ---
"$work/tools/depmod" -b "$pk" "$kver"
root=$work/root
mdir=lib/modules/$kver
mkdir -p "$root/$mdir"
mods=$(for m in "${modules[@]}"; do
        "$work/tools/modprobe" -d "$pk" -S "$kver" --show-depends "$m" \
            || die "module $m not found in $kpkg"
    done | sed -n "s|^insmod $pk/||p" | sed 's/ *$//' | sort -u)
for m in $mods; do
    mkdir -p "$root/$(dirname "$m")"
    cp "$pk/$m" "$root/$m"
done
cp "$pk/$mdir/modules.order" "$pk/$mdir/modules.builtin" "$pk/$mdir/modules.builtin.modinfo" \
    "$root/$mdir/"
"$work/tools/depmod" -b "$root" "$kver"
say "kernel $kver ($kpkg), modules: $(for m in $mods; do basename "$m" .ko; done | tr '\n' ' ')"

# --- the initramfs tree ---
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,job,etc/acpi/PWRF,root,var/log}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
# One link per applet, at the path busybox names (bin/sh, usr/bin/awk, ...).
"$bb" --list-full | while IFS= read -r applet; do
    [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
done
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$agent" "$root/sbin/vbatch-guest"
# busybox acpid maps the power button to /etc/acpi/PWRF/00000080.
install -m 0755 "$here/power-button" "$root/etc/acpi/PWRF/00000080"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'vbatch-testguest\n' >"$root/etc/hostname"
if [ "$(id -u)" = 0 ]; then
    mknod -m 0600 "$root/dev/console" c 5 1
    mknod -m 0666 "$root/dev/null" c 1 3
fi

# --- pack: cpio newc (busybox's own cpio), gzip; then publish atomically ---
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null) \
    | gzip -n -9 >"$work/initrd.img"
cp "$pk/boot/vmlinuz-$kver" "$work/vmlinuz"
mv -f "$work/vmlinuz" "$outdir/vmlinuz"
mv -f "$work/initrd.img" "$outdir/initrd.img"
printf '%s\n' "$kver" >"$outdir/kernel-version"
printf '%s\n' "$want" >"$stamp"
say "built $outdir/vmlinuz ($(stat -c %s "$outdir/vmlinuz") bytes) and initrd.img ($(stat -c %s "$outdir/initrd.img") bytes)"
