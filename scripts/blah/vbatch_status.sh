#!/bin/bash
# vbatch_status.sh: BLAH status script for vbatch, run by blahpd as
#
#   vbatch_status.sh [-w] [-n] vbatch/<date>/<id> [...]
#
# Prints one line per job and always exits 0:
#   0[BatchJobId="<id>"; JobStatus=<n>; WorkerNode="<node>"; ExitCode=<c>;]
# with JobStatus 1 idle (queued, or saved and waiting to be restored), 2 running (also while
# suspended: qstat's S, which keeps the job's slots), 3 removed (cancelled, or killed at its
# walltime, with ExitReason), 4 completed (with ExitCode), 5 held (also saved by qhold); or
#   1ERROR: <reason>
# for a job it cannot report. The state comes from `qstat -f -1`, read as BLAH's
# pbs_status reads Torque's.
#
# Before reporting a job as ended (3 or 4) it copies back what vbatch_submit.sh recorded:
# the job's stdout and stderr to the -o/-e paths and its output files to their
# destinations, from the job's spool in vbatchd. If that fails the job is reported with an
# error line, and the copy is tried again at the next poll.

. "$(dirname "$0")/vbatch_common.sh"

usage="Usage: $(basename "$0") [-w] [-n] <job id>..."
while getopts "wn" arg; do
    case $arg in
        w) ;; # the worker node is always reported when known
        n) exit 0 ;; # BLAH's log-parser port query: vbatch has no log parser
        *) echo "1ERROR: $usage"; exit 0 ;;
    esac
done
shift $((OPTIND - 1))

sep=$'\x1f'
errors=$(mktemp "${TMPDIR:-/tmp}/vbatch_status_XXXXXX") || { echo "1ERROR: cannot create a temporary file"; exit 0; }
trap 'rm -f "$errors"' EXIT

# Mode of the files copied back: what a plain create would give under the umask.
file_mode=$(printf '%o' $((0666 & ~$(umask))))

# Copies spool file $2 of job $1 to $3, atomically. With $4 = optional a missing file is
# skipped; otherwise it becomes an empty file (the job wrote nothing).
fetch() {
    local id=$1 path=$2 dest=$3 optional=$4 dir tmp
    dir=$(dirname "$dest")
    [ -d "$dir" ] || mkdir -p "$dir" 2>/dev/null || { stage_error="cannot create $dir"; return 1; }
    tmp=$(mktemp "$dir/.vbatch_stage_XXXXXX" 2>/dev/null) || { stage_error="cannot write in $dir"; return 1; }
    chmod "$file_mode" "$tmp"
    if vbatch_run output "$id" --file "$path" >"$tmp" 2>"$errors"; then
        mv -f "$tmp" "$dest" || { rm -f "$tmp"; stage_error="cannot write $dest"; return 1; }
    elif grep -q "has no file" "$errors"; then
        if [ "$optional" = optional ]; then
            rm -f "$tmp"
        else
            mv -f "$tmp" "$dest" || { rm -f "$tmp"; stage_error="cannot write $dest"; return 1; }
        fi
    else
        rm -f "$tmp"
        stage_error=$(tr '\n' ' ' <"$errors")
        return 1
    fi
    return 0
}

# Copies back everything recorded for job $1, then forgets the record.
stage_out() {
    local id=$1 spool record line kind rest index
    spool=$(vbatch_blah_spool) || return 0
    record=$spool/$id
    [ -f "$record" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        kind=${line%% *}
        rest=${line#* }
        case $kind in
            stdout) fetch "$id" stdout "$rest" || return 1 ;;
            stderr) fetch "$id" stderr "$rest" || return 1 ;;
            file)
                index=${rest%% *}
                fetch "$id" "output/blah/$index" "${rest#* }" optional || return 1 ;;
        esac
    done <"$record"
    rm -f "$record"
    return 0
}

for requested in "$@"; do
    if ! id=$(vbatch_blah_numeric_id "$requested"); then
        echo "1ERROR: malformed job id $requested"
        continue
    fi
    full=$(vbatch_run qstat -f -1 "$id" 2>"$errors")
    rc=$?
    if [ "$rc" -eq 153 ]; then
        echo "1ERROR: Unknown Job Id $id"
        continue
    elif [ "$rc" -ne 0 ]; then
        echo "1ERROR: $(tr '\n' ' ' <"$errors")"
        continue
    fi
    fields=$(printf '%s\n' "$full" | awk -v sep="$sep" '
        /^    job_state = / { state = substr($0, index($0, "=") + 2) }
        /^    exit_status = / { code = substr($0, index($0, "=") + 2) }
        /^    exec_host = / {
            host = substr($0, index($0, "=") + 2)
            if (index(host, "/") > 0) host = substr(host, 1, index(host, "/") - 1)
        }
        /^    comment = / { comment = substr($0, index($0, "=") + 2) }
        END { printf "%s%s%s%s%s%s%s\n", state, sep, code, sep, host, sep, comment }
    ')
    IFS=$sep read -r state code host comment <<<"$fields"
    reason=""
    case $state in
        Q | W | T) status=1 ;;
        R | E | S) status=2 ;;
        H) status=5 ;;
        C)
            case $code in
                271) status=3; reason=$comment ;;
                -11) status=3; reason=$comment ;;
                *) status=4; [ "${code:0:1}" = - ] && reason=$comment ;;
            esac ;;
        *)
            echo "1ERROR: unexpected job state '$state' for job $id"
            continue ;;
    esac
    if [ "$status" -eq 3 ] || [ "$status" -eq 4 ]; then
        stage_error=""
        if ! stage_out "$id"; then
            echo "1ERROR: job $id has ended but copying its output back failed: $stage_error"
            continue
        fi
    fi
    line="0[BatchJobId=\"$id\"; JobStatus=$status;"
    if [ -n "$host" ] && { [ "$status" -eq 2 ] || [ "$status" -eq 4 ]; }; then
        line+=" WorkerNode=\"$(vbatch_classad_string "$host")\";"
    fi
    if [ "$status" -eq 4 ]; then
        line+=" ExitCode=${code:-0};"
    fi
    if [ -n "$reason" ]; then
        line+=" ExitReason=\"$(vbatch_classad_string "$reason")\";"
    fi
    echo "$line]"
done
exit 0
