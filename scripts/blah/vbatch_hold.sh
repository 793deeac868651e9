#!/bin/bash
# vbatch_hold.sh: BLAH hold script for vbatch, run by blahpd as
#
#   vbatch_hold.sh <date>/<id> <JobStatus>
#
# Holds a job with `qhold`: a queued one (JobStatus 1, idle) keeps its place but does not
# start until released; a running one (JobStatus 2) has its VM saved to its node and its
# slots freed, as Torque checkpoints a running job, and is restored when released
# (vbatch_resume.sh). Exits 0 on success; otherwise non-zero with the reason on stderr.

. "$(dirname "$0")/vbatch_common.sh"

id=$(vbatch_blah_numeric_id "$1") || { echo "malformed job id $1" >&2; exit 2; }
case $2 in
    1 | 2 | "")
        vbatch_run qhold "$id"
        exit $? ;;
    5)
        exit 0 ;; # already held
    *)
        echo "unsupported for this job status ($2): vbatch can hold only queued or running jobs" >&2
        exit 1 ;;
esac
