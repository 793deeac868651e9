#!/usr/bin/env bash
# Makes the manual pages and shell completions of vbatch, vbatchd and vbatch-relay from their
# command definitions (swift-argument-parser): the pages with the `generate-manual` tool of
# swift-argument-parser's generate-manual plugin (built from the package's own checkout, so
# this works offline), the completions with each program's --generate-completion-script.
#
# Usage: scripts/make-manuals.sh [--bin DIR] [--scratch-path DIR] [--out DIR] [--install [PREFIX]]
#   --bin DIR           where vbatch, vbatchd and vbatch-relay are (default: the newest of the
#                       scratch path's release and debug builds)
#   --scratch-path DIR  the build directory (default .build); generate-manual is built in
#                       DIR/manual-tool from DIR/checkouts/swift-argument-parser
#   --out DIR           where to write (default .build/manuals, not in git):
#                         OUT/share/man/man1/{vbatch,vbatchd,vbatch-relay}.1
#                         OUT/share/bash-completion/completions/{vbatch,vbatchd}
#                         OUT/share/zsh/site-functions/_{vbatch,vbatchd}
#                         OUT/share/fish/vendor_completions.d/{vbatch,vbatchd}.fish
#   --install [PREFIX]  then install that tree under PREFIX (default /usr/local): man pages in
#                       PREFIX/share/man/man1, completions where bash-completion, zsh and fish
#                       look under PREFIX/share; idempotent.
#
# `vbatch image …`, `vbatch simulate` and `vbatch relay` are in vbatch(1) (vbatch-image and
# vbatch-simulate are the companions they exec, with no definitions of their own); qsub,
# qstat, … (links to vbatch, docs/grid-ce.md) have no pages: they follow Torque's. vbatch-relay,
# which names itself `vbatch relay`, gets a page but no completions (its generated scripts
# would be named with a space); `vbatch relay` passes its arguments through.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bin='' scratch=$repo/.build out='' install=no prefix=/usr/local
while (($#)); do
    case $1 in
        --bin) bin=$2; shift 2 ;;
        --scratch-path) scratch=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --install) install=yes; shift
            if (($#)) && [[ $1 != --* ]]; then prefix=$1; shift; fi ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "make-manuals: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $scratch == /* ]] || scratch=$(pwd)/$scratch
out=${out:-$scratch/manuals}
[[ $out == /* ]] || out=$(pwd)/$out
if ! command -v swift >/dev/null; then
    for dir in /opt/swift/usr/bin /opt/swift/bin; do [[ -x $dir/swift ]] && export PATH=$dir:$PATH; done
fi
if [[ -z $bin ]]; then
    for candidate in "$scratch/release" "$scratch/debug"; do
        if [[ -x $candidate/vbatch && ( -z $bin || $candidate/vbatch -nt $bin/vbatch ) ]]; then bin=$candidate; fi
    done
    [[ -n $bin ]] || { echo "make-manuals: no build in $scratch (swift build first, or pass --bin DIR)" >&2; exit 1; }
fi
programs=(vbatch vbatchd vbatch-relay)
for p in "${programs[@]}"; do
    [[ -x $bin/$p ]] || { echo "make-manuals: $bin/$p is missing" >&2; exit 1; }
done

# The plugin's tool, built on its own from the resolved swift-argument-parser (the plugin itself
# would rebuild every product in release mode, and skips programs that parse by hand). Its own
# scratch path: a `swift test` running on this build holds the build's lock.
parser=$scratch/checkouts/swift-argument-parser
[[ -f $parser/Package.swift ]] || { echo "make-manuals: $parser is missing (swift build first)" >&2; exit 1; }
swift build --package-path "$parser" --scratch-path "$scratch/manual-tool" --product generate-manual \
    >"${TMPDIR:-/tmp}/vbatch-generate-manual.log" 2>&1 \
    || { tail -20 "${TMPDIR:-/tmp}/vbatch-generate-manual.log" >&2; echo "make-manuals: building generate-manual failed" >&2; exit 1; }
tool=$(swift build --package-path "$parser" --scratch-path "$scratch/manual-tool" --show-bin-path)/generate-manual

man1=$out/share/man/man1
bash_dir=$out/share/bash-completion/completions zsh_dir=$out/share/zsh/site-functions fish_dir=$out/share/fish/vendor_completions.d
rm -rf "$out"
mkdir -p "$man1" "$bash_dir" "$zsh_dir" "$fish_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/vbatch-manuals.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A fixed date: the pages of one source tree are the same whenever they are made.
date=$(git -C "$repo" log -1 --format=%cs 2>/dev/null || date +%F)
for p in "${programs[@]}"; do
    mkdir "$work/$p"
    "$tool" "$bin/$p" --date "$date" --output-directory "$work/$p"
    page=$(find "$work/$p" -name '*.1' | head -1)
    [[ -n $page ]] || { echo "make-manuals: no page for $p" >&2; exit 1; }
    # vbatch-relay calls itself `vbatch relay` (as users run it); its page is vbatch-relay(1).
    sed -e "s/^\.Dt \"VBATCH RELAY\"/.Dt VBATCH-RELAY/" -e "s/^\.Nm \"vbatch relay\"/.Nm vbatch-relay/" "$page" > "$man1/$p.1"
    [[ $p != vbatch-relay ]] || continue
    "$bin/$p" --generate-completion-script bash > "$bash_dir/$p"
    "$bin/$p" --generate-completion-script zsh > "$zsh_dir/_$p"
    "$bin/$p" --generate-completion-script fish > "$fish_dir/$p.fish"
done
echo "make-manuals: pages and completions in $out"

if [[ $install == yes ]]; then
    for file in "$man1"/*.1 "$bash_dir"/* "$zsh_dir"/* "$fish_dir"/*; do
        target=$prefix/${file#"$out"/}
        if [[ -f $target ]] && cmp -s "$file" "$target"; then continue; fi
        install -D -m 0644 "$file" "$target"
        echo "make-manuals: installed $target"
    done
    command -v mandb >/dev/null && mandb -q "$prefix/share/man" 2>/dev/null || true
fi
