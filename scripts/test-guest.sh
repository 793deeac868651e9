#!/usr/bin/env bash
# shellcheck disable=SC2016  # the payloads are single-quoted on purpose
# End-to-end test of the test guest and the guest agent with plain qemu-system-x86_64
# (no libvirt), TCG, 256 MiB, 1 vCPU. Cases:
#   1. job disk + output disk at boot: args, env quoting, meta, stdout/stderr, an output
#      file, exit code 3, markers, strict ustar output;
#   2. ACPI power button (system_powerdown) while the payload sleeps: exit_code 143, the
#      output disk written, powered off within ~10 s; 2b. the same with a payload that
#      ignores TERM: KILLed after the agent's 5 s grace, exit_code 137;
#   3. pooled boot without disks: "ready", then output + job disks hot-plugged through
#      the monitor, the job runs;
#   4. a small output disk: stdout/stderr keep their ends, output files are dropped;
#   5. a job disk without a tar archive: no exit_code, agent.log says why, powered off;
#   6. the power button on a pooled VM still waiting for a job: it powers off at once;
#   7. a job whose lease (meta `lease`) runs out while the payload still runs: the agent
#      powers the VM off by itself (as on a node that lost the daemon).
# Prints timings (QEMU start -> ready, -> started, -> exit). Exits non-zero on failure.
#
#   scripts/test-guest.sh            (needs qemu-system-x86_64, GNU tar, python3; builds
#                                     the guest with images/testguest/build.sh)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guest=$repo/images/testguest/out
cmdline="console=ttyS0 quiet panic=-1 cryptomgr.notests"
work=$(mktemp -d "${TMPDIR:-/tmp}/vbatch-test-guest.XXXXXX")
qpids=()
cleanup() {
    local p
    for p in "${qpids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

failures=0
pass() { printf '  ok   %s\n' "$*"; }
fail() { printf '  FAIL %s\n' "$*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
die() { printf 'test-guest: %s\n' "$*" >&2; exit 1; }

for tool in qemu-system-x86_64 tar truncate python3 od; do
    command -v "$tool" >/dev/null || die "'$tool' is needed"
done
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is needed"

"$repo/images/testguest/build.sh" "$guest"

# now_us: wall clock in microseconds.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# ms FROM_US TO_US: the interval in milliseconds.
ms() { echo $(( ($2 - $1) / 1000 )); }

# sq STRING: STRING single-quoted for sh ('\'' for quotes).
sq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

# make_job DIR ID NAME PAYLOAD ARGS...: writes DIR/job.img (ustar padded to 1 MiB).
# Environment for env.sh comes from the JOB_ENV array (NAME=value items).
make_job() {
    local dir=$1 id=$2 name=$3 payload=$4; shift 4
    local src=$dir/jobsrc
    mkdir -p "$src/input"
    printf '%s\n' "$payload" >"$src/run"
    chmod 0755 "$src/run"
    : >"$src/env.sh"
    local kv
    for kv in "${JOB_ENV[@]}"; do
        printf 'export %s=%s\n' "${kv%%=*}" "$(sq "${kv#*=}")" >>"$src/env.sh"
    done
    local a line='set --'
    for a in "$@"; do line+=" $(sq "$a")"; done
    printf '%s\n' "$line" >"$src/args.sh"
    printf 'job_id=%s\nname=%s\ncores=1\nwalltime=3600\nmemory_mb=256\n' "$id" "$name" >"$src/meta"
    if [ -n "${JOB_LEASE:-}" ]; then printf 'lease=%s\n' "$JOB_LEASE" >>"$src/meta"; fi
    printf 'input data\n' >"$src/input/data.txt"
    tar --format=ustar --owner=0 --group=0 --numeric-owner -cf "$dir/job.img" \
        -C "$src" run env.sh args.sh meta input
    truncate -s %1M "$dir/job.img"
}

# boot DIR [QEMU ARGS...]: start QEMU in the background; the console goes, each line
# stamped with the wall clock (us), to DIR/console.log. Sets QPID and T0.
boot() {
    local dir=$1; shift
    : >"$dir/console.log"
    T0=$(now_us)
    qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nographic -no-reboot -nic none \
        -kernel "$guest/vmlinuz" -initrd "$guest/initrd.img" -append "$cmdline" \
        -serial stdio -monitor "unix:$dir/mon.sock,server,nowait" "$@" \
        </dev/null 2>"$dir/qemu.err" \
        > >(while IFS= read -r l; do printf '%s %s\n' "$(now_us)" "${l%$'\r'}"; done >>"$dir/console.log") &
    QPID=$!
    qpids+=("$QPID")
}

# boot_with_disks DIR: boot with DIR/job.img (read-only) and DIR/out.img attached at boot,
# as vbatch's on-demand VMs have them.
boot_with_disks() {
    boot "$1" \
        -drive "file=$1/job.img,format=raw,if=none,id=j,readonly=on" \
        -device virtio-blk-pci,drive=j,serial=vbatch-job \
        -drive "file=$1/out.img,format=raw,if=none,id=o" \
        -device virtio-blk-pci,drive=o,serial=vbatch-out
}

# wait_line DIR TEXT TIMEOUT_S: wait until a console line contains TEXT; prints its
# time stamp (us). Fails when QEMU exits first or on timeout.
wait_line() {
    local dir=$1 text=$2 deadline=$(( $(now_us) + $3 * 1000000 )) t
    while :; do
        t=$(grep -F -m1 -- "$text" "$dir/console.log" | cut -d' ' -f1 || true)
        if [ -n "$t" ]; then echo "$t"; return 0; fi
        if ! kill -0 "$QPID" 2>/dev/null; then sleep 0.2; fi
        t=$(grep -F -m1 -- "$text" "$dir/console.log" | cut -d' ' -f1 || true)
        if [ -n "$t" ]; then echo "$t"; return 0; fi
        kill -0 "$QPID" 2>/dev/null || return 1
        [ "$(now_us)" -lt "$deadline" ] || return 1
        sleep 0.02
    done
}

# wait_exit TIMEOUT_S: wait for QEMU to exit; prints the time (us). Kills it on timeout.
wait_exit() {
    local deadline=$(( $(now_us) + $1 * 1000000 ))
    while kill -0 "$QPID" 2>/dev/null; do
        if [ "$(now_us)" -ge "$deadline" ]; then
            kill "$QPID" 2>/dev/null || true
            wait "$QPID" 2>/dev/null || true
            return 1
        fi
        sleep 0.02
    done
    local t; t=$(now_us)
    wait "$QPID" 2>/dev/null || true
    sleep 0.1   # let the console reader finish
    echo "$t"
}

# hmp DIR COMMAND...: run human monitor commands through the monitor socket.
hmp() {
    local dir=$1; shift
    python3 - "$dir/mon.sock" "$@" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
def until_prompt():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")
until_prompt()
for cmd in sys.argv[2:]:
    s.sendall(cmd.encode() + b"\n")
    out = until_prompt()
    # Echo of the command and the prompt stripped; anything else is QEMU's answer.
    lines = [l for l in out.replace("\r", "").split("\n")
             if l.strip() and not l.startswith("(qemu)") and cmd not in l]
    for l in lines:
        print("    monitor: " + "".join(c for c in l if c.isprintable()))
s.close()
EOF
}

# read_output DIR: extract DIR/out.img (the output disk) into DIR/out.
read_output() {
    mkdir -p "$1/out"
    tar -xf "$1/out.img" -C "$1/out"
}

# is_posix_ustar FILE: the first header has magic "ustar\0" and version "00".
is_posix_ustar() {
    [ "$(od -An -c -j 257 -N 8 "$1" | tr -d ' ')" = 'ustar\000' ]
}

# markers DIR: the console lines that start with "vbatch-guest: job".
markers() { cut -d' ' -f2- "$1/console.log" | grep '^vbatch-guest: job' || true; }

show_console() { sed 's/^[0-9]* /    | /' "$1/console.log" | tail -n "${2:-15}"; }

# --- case 1 ---------------------------------------------------------------------------
echo "case 1: job and output disks at boot"
c=$work/c1; mkdir -p "$c"
tricky=$'quote \' lt < gt > amp & dq " dollar $HOME back ` star * nl\nend'
payload='#!/bin/sh
cat /proc/uptime >"$VBATCH_OUTPUT/.uptime-at-start"
printf "argc=%s\n" "$#"
for a in "$@"; do printf "arg=[%s]\n" "$a"; done
printf "tricky=[%s]\n" "$TRICKY"
printf "id=%s name=%s cores=%s walltime=%s memory=%s\n" "$VBATCH_JOB_ID" "$VBATCH_JOB_NAME" "$VBATCH_CORES" "$VBATCH_WALLTIME" "$VBATCH_MEMORY_MB"
printf "output=%s home=%s pwd=%s path=%s\n" "$VBATCH_OUTPUT" "$HOME" "$(pwd)" "$PATH"
cat /job/meta
cat /job/input/data.txt
echo "result 42" >"$VBATCH_OUTPUT/result.txt"
mkdir -p "$VBATCH_OUTPUT/sub dir"
echo nested >"$VBATCH_OUTPUT/sub dir/file 2.txt"
ln -s /etc/passwd "$VBATCH_OUTPUT/link"
echo "this goes to stderr" >&2
exit 3'
JOB_ENV=("TRICKY=$tricky" "OTHER=plain")
make_job "$c" 42 "test job <1>" "$payload" "hello world" "it's" '$HOME' '*' '' '-n'
truncate -s 16M "$c/out.img"
boot_with_disks "$c"
t_init=$(wait_line "$c" "testguest: init" 60) || t_init=
t_ready=$(wait_line "$c" "vbatch-guest: ready" 60) || t_ready=
t_start=$(wait_line "$c" "vbatch-guest: job 42 started" 60) || t_start=
t_exit=$(wait_exit 60) || t_exit=
check "QEMU powered off by itself" [ -n "$t_exit" ]
if [ -n "$t_init" ] && [ -n "$t_ready" ] && [ -n "$t_start" ] && [ -n "$t_exit" ]; then
    printf '  time: QEMU start -> userspace (/init) %s ms, -> ready %s ms, -> started %s ms, -> exit %s ms\n' \
        "$(ms "$T0" "$t_init")" "$(ms "$T0" "$t_ready")" "$(ms "$T0" "$t_start")" "$(ms "$T0" "$t_exit")"
fi
expected_markers=$'vbatch-guest: job 42 started\nvbatch-guest: job 42 exited 3'
check "console markers are exactly 'started' and 'exited 3'" [ "$(markers "$c")" = "$expected_markers" ]
check "console has 'vbatch-guest: ready'" grep -q ' vbatch-guest: ready$' "$c/console.log"
if read_output "$c"; then
    pass "output disk holds a tar archive"
    o=$c/out
    check "output archive is POSIX ustar (magic ustar\\0 00)" is_posix_ustar "$c/out.img"
    check "exit_code is '3\\n'" [ "$(od -An -c "$o/exit_code" | tr -d ' ')" = '3\n' ]
    check "stderr" [ "$(cat "$o/stderr")" = "this goes to stderr" ]
    expected_stdout=$(cat <<EOF
argc=6
arg=[hello world]
arg=[it's]
arg=[\$HOME]
arg=[*]
arg=[]
arg=[-n]
tricky=[$tricky]
id=42 name=test job <1> cores=1 walltime=3600 memory=256
output=/job/output home=/job/work pwd=/job/work path=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
job_id=42
name=test job <1>
cores=1
walltime=3600
memory_mb=256
input data
EOF
)
    if [ "$(cat "$o/stdout")" = "$expected_stdout" ]; then
        pass "stdout: args, env with quotes/<>&\" and newline, VBATCH_*, meta, input"
    else
        fail "stdout differs:"; diff <(echo "$expected_stdout") "$o/stdout" | sed 's/^/    /' || true
    fi
    check "output/result.txt" [ "$(cat "$o/output/result.txt" 2>/dev/null)" = "result 42" ]
    check "output/sub dir/file 2.txt" [ "$(cat "$o/output/sub dir/file 2.txt" 2>/dev/null)" = "nested" ]
    check "the symlink the payload left is not archived" [ ! -e "$o/output/link" ] 
    check "agent.log is there" grep -q "payload exited with 3" "$o/agent.log"
    members=$(tar -tvf "$c/out.img" | cut -c1 | sort -u | tr -d '\n')
    check "archive holds regular files only" [ "$members" = "-" ]
    # How long after the agent's "payload starting" the payload ran its first command.
    if [ -f "$o/output/.uptime-at-start" ]; then
        up_run=$(cut -d' ' -f1 "$o/output/.uptime-at-start")
        up_agent=$(sed -n 's/^\[\([0-9.]*\)\] payload starting.*/\1/p' "$o/agent.log")
        [ -n "$up_agent" ] && printf '  time: agent "started" -> first payload command %s ms (guest uptime)\n' \
            "$(awk -v a="$up_agent" -v b="$up_run" 'BEGIN { printf "%d", (b - a) * 1000 }')"
    fi
else
    fail "output disk does not hold a tar archive"
    show_console "$c"
fi

# --- case 2 ---------------------------------------------------------------------------
echo "case 2: ACPI power button (system_powerdown) stops a sleeping payload"
c=$work/c2; mkdir -p "$c"
JOB_ENV=()
make_job "$c" 43 sleeper '#!/bin/sh
echo "sleeping"
sleep 600
echo "not reached"'
truncate -s 16M "$c/out.img"
boot_with_disks "$c"
if t_start=$(wait_line "$c" "vbatch-guest: job 43 started" 60); then
    sleep 0.5
    t_pd=$(now_us)
    hmp "$c" system_powerdown
    t_exit=$(wait_exit 15) || t_exit=
    check "powered off after system_powerdown" [ -n "$t_exit" ]
    if [ -n "$t_exit" ]; then
        printf '  time: QEMU start -> started %s ms; system_powerdown -> exit %s ms\n' \
            "$(ms "$T0" "$t_start")" "$(ms "$t_pd" "$t_exit")"
        check "off within 10 s of system_powerdown" [ "$(ms "$t_pd" "$t_exit")" -le 10000 ]
    fi
    check "console marker 'job 43 exited 143'" grep -q ' vbatch-guest: job 43 exited 143$' "$c/console.log"
    if read_output "$c"; then
        check "exit_code is 143" [ "$(cat "$c/out/exit_code")" = 143 ]
        check "stdout kept" [ "$(cat "$c/out/stdout")" = sleeping ]
        check "agent.log tells the stop" grep -q "stop requested" "$c/out/agent.log"
    else
        fail "output disk does not hold a tar archive"
    fi
else
    fail "job 43 did not start"
    wait_exit 1 >/dev/null || true
fi
[ "$failures" = 0 ] || show_console "$c"

# --- case 2b --------------------------------------------------------------------------
echo "case 2b: a payload that ignores TERM is KILLed after the grace period"
c=$work/c2b; mkdir -p "$c"
JOB_ENV=()
make_job "$c" 46 stubborn '#!/bin/sh
trap "" TERM
echo "ignoring TERM"
sleep 600'
truncate -s 16M "$c/out.img"
boot_with_disks "$c"
if wait_line "$c" "vbatch-guest: job 46 started" 60 >/dev/null; then
    sleep 0.5
    t_pd=$(now_us)
    hmp "$c" system_powerdown
    t_exit=$(wait_exit 20) || t_exit=
    check "powered off after system_powerdown" [ -n "$t_exit" ]
    if [ -n "$t_exit" ]; then
        printf '  time: system_powerdown -> exit %s ms\n' "$(ms "$t_pd" "$t_exit")"
        check "off within 10 s of system_powerdown" [ "$(ms "$t_pd" "$t_exit")" -le 10000 ]
    fi
    if read_output "$c"; then
        check "exit_code is 137 (KILL)" [ "$(cat "$c/out/exit_code")" = 137 ]
        check "agent.log tells the KILL" grep -q "sending KILL" "$c/out/agent.log"
    else
        fail "output disk does not hold a tar archive"
    fi
else
    fail "job 46 did not start"
    wait_exit 1 >/dev/null || true
fi
[ "$failures" = 0 ] || show_console "$c"

# --- case 3 ---------------------------------------------------------------------------
echo "case 3: pooled boot without disks, job hot-plugged after 'ready'"
c=$work/c3; mkdir -p "$c"
JOB_ENV=("GREETING=hi there")
make_job "$c" 44 pooled '#!/bin/sh
echo "$GREETING from $VBATCH_JOB_ID: $*"
ls /job/input
# A stray USR1 to the agent (PID 1 here) must not end its wait for the payload.
kill -s USR1 1
sleep 0.3
echo "still running"
exit 0' one two
truncate -s 16M "$c/out.img"
boot "$c"
if t_ready=$(wait_line "$c" "vbatch-guest: ready" 60); then
    sleep 0.5
    t_plug=$(now_us)
    hmp "$c" \
        "drive_add 0 if=none,id=o,file=$c/out.img,format=raw" \
        "device_add virtio-blk-pci,drive=o,serial=vbatch-out,id=od" \
        "drive_add 0 if=none,id=j,file=$c/job.img,format=raw,readonly=on" \
        "device_add virtio-blk-pci,drive=j,serial=vbatch-job,id=jd"
    t_start=$(wait_line "$c" "vbatch-guest: job 44 started" 30) || t_start=
    t_exit=$(wait_exit 30) || t_exit=
    check "job started after hot-plug" [ -n "$t_start" ]
    check "powered off by itself" [ -n "$t_exit" ]
    if [ -n "$t_start" ] && [ -n "$t_exit" ]; then
        printf '  time: QEMU start -> ready %s ms; hot-plug -> started %s ms, -> exit %s ms\n' \
            "$(ms "$T0" "$t_ready")" "$(ms "$t_plug" "$t_start")" "$(ms "$t_plug" "$t_exit")"
    fi
    if read_output "$c"; then
        check "exit_code is 0" [ "$(cat "$c/out/exit_code")" = 0 ]
        check "stdout (and a stray USR1 to the agent did not cut the payload short)" \
            [ "$(cat "$c/out/stdout")" = $'hi there from 44: one two\ndata.txt\nstill running' ]
    else
        fail "output disk does not hold a tar archive"
    fi
else
    fail "no 'ready' on a boot without disks"
    wait_exit 1 >/dev/null || true
fi
[ "$failures" = 0 ] || show_console "$c"

# --- case 4 ---------------------------------------------------------------------------
echo "case 4: output larger than the output disk"
c=$work/c4; mkdir -p "$c"
JOB_ENV=()
make_job "$c" 45 big '#!/bin/sh
i=0
while [ $i -lt 6000 ]; do echo "stdout line $i ........................................"; i=$((i+1)); done
echo "LAST STDOUT LINE"
i=0
while [ $i -lt 3000 ]; do echo "stderr line $i ........................................" >&2; i=$((i+1)); done
echo "LAST STDERR LINE" >&2
head -c 300000 /dev/zero >"$VBATCH_OUTPUT/big.bin"
exit 7'
truncate -s 256K "$c/out.img"
boot_with_disks "$c"
t_exit=$(wait_exit 60) || t_exit=
check "powered off by itself" [ -n "$t_exit" ]
if read_output "$c"; then
    o=$c/out
    check "exit_code is 7" [ "$(cat "$o/exit_code")" = 7 ]
    check "stdout truncated, its end kept" [ "$(tail -n 1 "$o/stdout")" = "LAST STDOUT LINE" ]
    check "stderr truncated, its end kept" [ "$(tail -n 1 "$o/stderr")" = "LAST STDERR LINE" ]
    check "stdout is shorter than written" [ "$(stat -c %s "$o/stdout")" -lt 300000 ]
    check "output file dropped" [ ! -e "$o/output/big.bin" ]
    check "agent.log says stdout was truncated" grep -q "stdout truncated" "$o/agent.log"
    check "agent.log says output files were dropped" grep -q "output file(s) dropped" "$o/agent.log"
else
    fail "output disk does not hold a tar archive"
    show_console "$c"
fi

# --- case 5 ---------------------------------------------------------------------------
echo "case 5: a job disk that holds no tar archive"
c=$work/c5; mkdir -p "$c"
head -c 1048576 /dev/urandom >"$c/job.img"
truncate -s 16M "$c/out.img"
boot_with_disks "$c"
t_exit=$(wait_exit 60) || t_exit=
check "powered off by itself" [ -n "$t_exit" ]
check "no job markers on the console" [ -z "$(markers "$c")" ]
if read_output "$c"; then
    check "no exit_code member" [ ! -e "$c/out/exit_code" ]
    check "agent.log says why" grep -q "no readable tar archive" "$c/out/agent.log"
else
    fail "output disk does not hold a tar archive"
    show_console "$c"
fi

# --- case 6 ---------------------------------------------------------------------------
echo "case 6: power button on a pooled VM that waits for a job"
c=$work/c6; mkdir -p "$c"
boot "$c"
if wait_line "$c" "vbatch-guest: ready" 60 >/dev/null; then
    sleep 0.3
    t_pd=$(now_us)
    hmp "$c" system_powerdown
    t_exit=$(wait_exit 10) || t_exit=
    check "powered off" [ -n "$t_exit" ]
    [ -z "$t_exit" ] || printf '  time: system_powerdown -> exit %s ms\n' "$(ms "$t_pd" "$t_exit")"
    check "no job markers on the console" [ -z "$(markers "$c")" ]
else
    fail "no 'ready' on a boot without disks"
    wait_exit 1 >/dev/null || true
fi

# --- case 7 ---------------------------------------------------------------------------
echo "case 7: the VM's lease runs out while the payload runs"
c=$work/c7; mkdir -p "$c"
JOB_ENV=()
JOB_LEASE=4 make_job "$c" 7 "leased" '#!/bin/sh
echo "sleeping past the lease"
sleep 300'
truncate -s 16M "$c/out.img"
boot_with_disks "$c"
if t_start=$(wait_line "$c" "vbatch-guest: job 7 started" 60); then
    t_exit=$(wait_exit 30) || t_exit=
    check "powered off by itself at the lease, not after the 300 s payload" [ -n "$t_exit" ]
    [ -z "$t_exit" ] || printf '  time: payload started -> powered off %s ms (lease 4 s)\n' "$(ms "$t_start" "$t_exit")"
    check "the console says the lease is over" grep -q "vbatch-guest: lease of 4s is over" "$c/console.log"
else
    fail "the leased job did not start"
    show_console "$c"
    wait_exit 1 >/dev/null || true
fi

if [ "$failures" = 0 ]; then
    echo "test-guest: all cases passed"
else
    echo "test-guest: $failures check(s) failed"
    exit 1
fi
