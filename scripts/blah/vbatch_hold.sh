#!/bin/bash
# vbatch_hold.sh: BLAH hold script for vbatch, run by blahpd as
#
#   vbatch_hold.sh <date>/<id> <JobStatus>
#
# Holds a queued job (JobStatus 1, idle) with `qhold`: it keeps its place but does not
# start until released. vbatch cannot hold a running job (its VM would have to be
# suspended), so JobStatus 2 fails, as BLAH's pbs_hold.sh does for Torque.
# Exits 0 on success; otherwise non-zero with the reason on stderr.

. "$(dirname "$0")/vbatch_common.sh"

id=$(vbatch_blah_numeric_id "$1") || { echo "malformed job id $1" >&2; exit 2; }
case $2 in
    1 | "")
        vbatch_run qhold "$id"
        exit $? ;;
    5)
        exit 0 ;; # already held
    *)
        echo "unsupported for this job status ($2): vbatch can hold only queued jobs" >&2
        exit 1 ;;
esac
