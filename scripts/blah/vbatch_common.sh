#!/bin/bash
# Shared by the vbatch BLAH backend scripts (vbatch_submit.sh, vbatch_status.sh,
# vbatch_cancel.sh, vbatch_hold.sh, vbatch_resume.sh): configuration, the vbatch binary,
# job ids, quoting and the stage-out records. Sourced, never run.
#
# Configuration, in order of precedence:
#   VBATCH_BIN          path of the vbatch binary (the PBS commands are run as `vbatch qsub …`)
#   vbatch_binpath      directory holding vbatch, from blah.config (like pbs_binpath)
#   VBATCH_SOCKET       vbatchd's socket; else vbatch_socket from blah.config; else vbatch's default
#   VBATCH_BLAH_SPOOL   where submit records what to copy back when a job ends; else
#                       vbatch_spooldir from blah.config; else ~/.vbatch/blah; else /tmp/vbatch-blah-UID.
#                       A directory the caller does not own is site-wide (make it mode 1777):
#                       each account uses its subdirectory named after it

vbatch_blah_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# BLAH's own configuration loader when the scripts sit beside BLAH's, else blah.config itself.
if [ -z "$VBATCH_BLAH_NO_CONFIG" ]; then
    if [ -r "$vbatch_blah_dir/blah_load_config.sh" ]; then
        . "$vbatch_blah_dir/blah_load_config.sh" 2>/dev/null
    elif [ -r "${BLAHPD_CONFIG_LOCATION:-/etc/blah.config}" ]; then
        . "${BLAHPD_CONFIG_LOCATION:-/etc/blah.config}" 2>/dev/null
    fi
fi

if [ -n "$VBATCH_BIN" ]; then
    vbatch_bin=$VBATCH_BIN
elif [ -n "$vbatch_binpath" ]; then
    vbatch_bin=${vbatch_binpath%/}/vbatch
else
    vbatch_bin=$(command -v vbatch 2>/dev/null || echo /usr/local/bin/vbatch)
fi
if [ -z "$VBATCH_SOCKET" ] && [ -n "$vbatch_socket" ]; then
    export VBATCH_SOCKET=$vbatch_socket
fi

# Runs vbatch (`vbatch_run qsub …`, `vbatch_run output …`).
vbatch_run() {
    "$vbatch_bin" "$@"
}

# The vbatch job number in a BLAH job id: vbatch/20260101/42, 20260101/42, 42.server or 42.
vbatch_blah_numeric_id() {
    local id=${1##*/}
    id=${id%%.*}
    case $id in
        '' | *[!0-9]*) return 1 ;;
    esac
    printf '%s' "$id"
}

# $1 quoted for sh: 'it'\''s'.
vbatch_quote() {
    local s=$1 q="'\\''"
    printf "'%s'" "${s//\'/$q}"
}

# $1 as the inside of a classad string: backslashes and double quotes escaped.
vbatch_classad_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '%s' "$s"
}

# Splits $1 into the array vbatch_words as sh would split it into words, without any
# expansion: blanks separate words; '…', "…" (with \" \\ \$ \` escapes) and \ quote.
vbatch_split_words() {
    local s=$1 i=0 n=${#1} c word="" inword=""
    vbatch_words=()
    while [ "$i" -lt "$n" ]; do
        c=${s:i:1}
        case $c in
            ' ' | $'\t' | $'\n')
                if [ -n "$inword" ]; then vbatch_words+=("$word"); word=""; inword=""; fi ;;
            "'")
                inword=1
                i=$((i + 1))
                while [ "$i" -lt "$n" ] && [ "${s:i:1}" != "'" ]; do word+=${s:i:1}; i=$((i + 1)); done
                [ "$i" -lt "$n" ] || return 1 ;;
            '"')
                inword=1
                i=$((i + 1))
                while [ "$i" -lt "$n" ] && [ "${s:i:1}" != '"' ]; do
                    c=${s:i:1}
                    if [ "$c" = '\' ] && [ $((i + 1)) -lt "$n" ]; then
                        case ${s:i+1:1} in
                            '"' | '\' | '$' | '`') i=$((i + 1)); c=${s:i:1} ;;
                        esac
                    fi
                    word+=$c
                    i=$((i + 1))
                done
                [ "$i" -lt "$n" ] || return 1 ;;
            '\')
                inword=1
                i=$((i + 1))
                [ "$i" -lt "$n" ] && word+=${s:i:1} ;;
            *)
                inword=1
                word+=$c ;;
        esac
        i=$((i + 1))
    done
    if [ -n "$inword" ]; then vbatch_words+=("$word"); fi
    return 0
}

# The directory of stage-out records (created 0700, owned by the caller), printed.
vbatch_blah_spool() {
    local dir=${VBATCH_BLAH_SPOOL:-$vbatch_spooldir}
    if [ -n "$dir" ] && [ -d "$dir" ] && [ ! -O "$dir" ]; then
        # A site-wide directory shared by the CE's accounts (mode 1777, like /tmp): each
        # account keeps its records in its own subdirectory.
        dir=$dir/$(id -un)
    elif [ -z "$dir" ]; then
        if [ -n "$HOME" ] && [ -d "$HOME" ] && [ -w "$HOME" ]; then
            dir=$HOME/.vbatch/blah
        else
            dir=${TMPDIR:-/tmp}/vbatch-blah-$(id -u)
        fi
    fi
    mkdir -p "$dir" 2>/dev/null && chmod 700 "$dir" 2>/dev/null
    if [ -d "$dir" ] && [ ! -L "$dir" ] && [ -O "$dir" ] && [ -w "$dir" ]; then
        printf '%s' "$dir"
        return 0
    fi
    return 1
}
