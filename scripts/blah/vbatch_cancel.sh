#!/bin/bash
# vbatch_cancel.sh: BLAH cancel script for vbatch, run by blahpd as
#
#   vbatch_cancel.sh <date>/<id> [...]
#
# Cancels each job (`qdel`: a running job's VM is destroyed) and prints one result line per
# job, as blahpd expects: ` 0 No\ error` for a single job, `.<index> 0 No\ error` for each
# of several; a failure gives the exit status and the message with its spaces escaped. A
# job that has already ended or that vbatchd does not know counts as cancelled, as in
# BLAH's pbs_cancel.sh. Exits 0.

. "$(dirname "$0")/vbatch_common.sh"

count=$#
index=0
for job in "$@"; do
    if id=$(vbatch_blah_numeric_id "$job"); then
        output=$(vbatch_run qdel "$id" 2>&1)
        rc=$?
    else
        output="malformed job id $job"
        rc=2
    fi
    if [ "$rc" -ne 0 ] && { [[ $output == *"Unknown Job"* ]] || [[ $output == *"invalid state for job - COMPLETE"* ]]; }; then
        rc=0
    fi
    if [ "$count" -gt 1 ]; then
        prefix=".$index"
    else
        prefix=""
    fi
    if [ "$rc" -eq 0 ]; then
        echo "$prefix 0 No\\ error"
    else
        output=$(printf '%s' "$output" | tr '\n' ' ')
        echo "$prefix $rc ${output// /\\ }"
    fi
    index=$((index + 1))
done
exit 0
