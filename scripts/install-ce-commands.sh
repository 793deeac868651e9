#!/usr/bin/env bash
# Installs what a grid CE needs to talk to vbatch, idempotently (run it again after a rebuild):
#   - the vbatch binary and the PBS-compatible commands qsub, qstat, qdel, qhold, qrls,
#     pbsnodes, qmgr (links to vbatch, which dispatches on the name it is run as) into
#     BIN_DIR, with the companions vbatch execs for `vbatch image`, `vbatch simulate` and
#     `vbatch relay` (vbatch-image, vbatch-simulate, vbatch-relay: it looks for them next to
#     itself) when they were built;
#   - the BLAH backend scripts (scripts/blah/vbatch_*.sh) into BLAH_DIR;
#   - if a blah.config exists: `vbatch` in supported_lrms and vbatch_binpath=BIN_DIR.
# See docs/grid-ce.md for wiring HTCondor-CE and ARC CE to them; scripts/setup-ce.sh runs this
# on a CE host whose vbatchd is on another machine, and sets up `vbatch relay`.
#
# Usage: scripts/install-ce-commands.sh [--vbatch PATH] [--bin-dir DIR] [--blah-dir DIR]
#                                       [--blah-config FILE] [--no-blah-config] [--force]
#   --vbatch PATH       the vbatch binary to install (default: the newest of .build/release
#                       and .build/debug, else `vbatch` on PATH); its companions are taken
#                       from the same directory
#   --bin-dir DIR       where vbatch and the command links go (default /usr/local/bin)
#   --blah-dir DIR      where the BLAH scripts go (default: BLAH's libexec directory
#                       /usr/libexec/blahp if it exists, else /usr/local/libexec/vbatch/blah)
#   --blah-config FILE  the blah.config to update (default: $BLAHPD_CONFIG_LOCATION, else
#                       /etc/blah.config, when it exists)
#   --force             replace commands that are not links to vbatch (e.g. Torque's)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

vbatch=""
bin_dir=/usr/local/bin
blah_dir=""
blah_config=""
update_config=yes
force=no
while (($#)); do
    case $1 in
        --vbatch) vbatch=$2; shift 2 ;;
        --bin-dir) bin_dir=$2; shift 2 ;;
        --blah-dir) blah_dir=$2; shift 2 ;;
        --blah-config) blah_config=$2; shift 2 ;;
        --no-blah-config) update_config=no; shift ;;
        --force) force=yes; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-ce-commands: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [[ -z $vbatch ]]; then
    for candidate in "$repo/.build/release/vbatch" "$repo/.build/debug/vbatch"; do
        if [[ -x $candidate && ( -z $vbatch || $candidate -nt $vbatch ) ]]; then vbatch=$candidate; fi
    done
    [[ -n $vbatch ]] || vbatch=$(command -v vbatch || true)
fi
[[ -n $vbatch && -x $vbatch ]] || { echo "install-ce-commands: no vbatch binary found (build first, or pass --vbatch PATH)" >&2; exit 1; }
vbatch=$(cd "$(dirname "$vbatch")" && pwd)/$(basename "$vbatch")

if [[ -z $blah_dir ]]; then
    if [[ -d /usr/libexec/blahp ]]; then blah_dir=/usr/libexec/blahp; else blah_dir=/usr/local/libexec/vbatch/blah; fi
fi

changed=0
# Copies $1 to $2 with mode $3 unless $2 already has the same content and mode.
place() {
    if [[ -f $2 && ! -L $2 ]] && cmp -s "$1" "$2" && [[ $(stat -c %a "$2") == "$3" ]]; then return; fi
    install -D -m "$3" "$1" "$2.vbatch-new"
    mv -f "$2.vbatch-new" "$2"
    echo "install-ce-commands: installed $2"
    changed=1
}

# The binary and the PBS commands.
mkdir -p "$bin_dir"
if [[ $vbatch != "$bin_dir/vbatch" ]]; then place "$vbatch" "$bin_dir/vbatch" 755; fi
# `vbatch image …`, `vbatch simulate` and `vbatch relay` exec these from vbatch's own directory.
for companion in vbatch-image vbatch-simulate vbatch-relay; do
    source_path=$(dirname "$vbatch")/$companion
    if [[ -x $source_path ]]; then
        if [[ $source_path != "$bin_dir/$companion" ]]; then place "$source_path" "$bin_dir/$companion" 755; fi
    else
        echo "install-ce-commands: no $companion next to $vbatch; \`vbatch ${companion#vbatch-}\` will not work" >&2
    fi
done
for command in qsub qstat qdel qhold qrls qsig pbsnodes qmgr; do
    target=$bin_dir/$command
    if [[ -L $target && $(readlink "$target") == vbatch ]]; then continue; fi
    if [[ -e $target || -L $target ]] && [[ $force != yes ]]; then
        echo "install-ce-commands: $target exists and is not vbatch's (another batch system?); not replaced (use --force)" >&2
        continue
    fi
    ln -sfn vbatch "$target"
    echo "install-ce-commands: linked $target -> vbatch"
    changed=1
done

# The BLAH scripts.
for script in "$repo"/scripts/blah/*.sh; do
    name=$(basename "$script")
    # A site's own attributes file is theirs: installed once, never overwritten.
    if [[ $name == vbatch_local_submit_attributes.sh && -e $blah_dir/$name ]]; then continue; fi
    place "$script" "$blah_dir/$name" 755
done

# blah.config: declare the vbatch LRMS and where its commands are.
if [[ $update_config == yes ]]; then
    config=${blah_config:-${BLAHPD_CONFIG_LOCATION:-/etc/blah.config}}
    if [[ -f $config ]]; then
        if ! grep -Eq '^[[:space:]]*supported_lrms[[:space:]]*=' "$config"; then
            echo "supported_lrms=vbatch" >>"$config"
            echo "install-ce-commands: $config: added supported_lrms=vbatch"
            changed=1
        elif ! grep -Eq '^[[:space:]]*supported_lrms[[:space:]]*=.*(^|[=,"[:space:]])vbatch([,"[:space:]]|$)' "$config"; then
            sed -i -E 's/^([[:space:]]*supported_lrms[[:space:]]*=[[:space:]]*"?)([^"]*)("?)[[:space:]]*$/\1\2,vbatch\3/' "$config"
            sed -i -E 's/^([[:space:]]*supported_lrms[[:space:]]*=[[:space:]]*"?),vbatch/\1vbatch/' "$config"
            echo "install-ce-commands: $config: added vbatch to supported_lrms"
            changed=1
        fi
        if ! grep -Eq '^[[:space:]]*vbatch_binpath[[:space:]]*=' "$config"; then
            echo "vbatch_binpath=$bin_dir" >>"$config"
            echo "install-ce-commands: $config: added vbatch_binpath=$bin_dir"
            changed=1
        fi
    fi
fi

if ((changed == 0)); then echo "install-ce-commands: up to date ($bin_dir, $blah_dir)"; fi
