#!/bin/bash
# Sourced by vbatch_submit.sh before it submits a job, as BLAH's <lrms>_local_submit_attributes.sh.
# Anything it prints that starts with '#' goes into the job script, where qsub reads the
# #PBS directives. Copy it to ~/.blah/ to override it for one user.
#
# The CE can pass attributes per job: with `+remote_cerequirements = Walltime == 3600` in
# the routed job (HTCondor-CE) the variable Walltime is set here to 3600.
#
# Examples:
#   [ -n "$Walltime" ] && echo "#PBS -l walltime=$Walltime"
#   # Pick the VM image by VO (a vbatch extension of -l):
#   [ "$VirtualOrganisation" = cms ] && echo "#PBS -l environment=el9"
