#!/usr/bin/env bash
# Removes what vbatch left on this machine's own libvirtd (qemu:///system) after the demo or
# the tests: every vbatch domain (vbatch-job-N, vbatch-pool-N, vbatch-bench-…), every
# volume of the vbatch-images and vbatch-jobs pools, and the pools themselves. vbatchd
# creates the pools again when it next connects. Safe to run when there is nothing to remove.
# Not for a production worker node: there the image cache is meant to stay.
set -uo pipefail
uri=qemu:///system
virsh -c "$uri" version >/dev/null 2>&1 || exit 0
for domain in $(virsh -q -c "$uri" list --all --name 2>/dev/null | grep -E '^vbatch-'); do
    virsh -q -c "$uri" destroy "$domain" >/dev/null 2>&1
    virsh -q -c "$uri" undefine "$domain" >/dev/null 2>&1
done
for pool in vbatch-jobs vbatch-images; do
    virsh -q -c "$uri" pool-info "$pool" >/dev/null 2>&1 || continue
    for volume in $(virsh -q -c "$uri" vol-list "$pool" 2>/dev/null | awk '{print $1}'); do
        virsh -q -c "$uri" vol-delete --pool "$pool" "$volume" >/dev/null 2>&1
    done
    virsh -q -c "$uri" pool-destroy "$pool" >/dev/null 2>&1
    virsh -q -c "$uri" pool-delete "$pool" >/dev/null 2>&1
    virsh -q -c "$uri" pool-undefine "$pool" >/dev/null 2>&1
done
exit 0
