#!/bin/bash
# vbatch_resume.sh: BLAH resume script for vbatch, run by blahpd as
#
#   vbatch_resume.sh <date>/<id>
#
# Releases a held job (`qrls`) back into its queue; a job held while running (its VM saved)
# is restored where it fits, its work kept. Exits 0 on success; otherwise non-zero with the
# reason on stderr.

. "$(dirname "$0")/vbatch_common.sh"

id=$(vbatch_blah_numeric_id "$1") || { echo "malformed job id $1" >&2; exit 2; }
vbatch_run qrls "$id"
