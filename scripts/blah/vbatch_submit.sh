#!/bin/bash
# vbatch_submit.sh: BLAH submission script for vbatch, run by blahpd as
#
#   vbatch_submit.sh -c <command> [-i <stdin>] [-o <stdout>] [-e <stderr>] [-w <workdir>]
#       [-q <queue>] [-x <proxy>] [-u <subject>] [-j <client id>] [-T <tmpdir>]
#       [-I <input list>] [-O <output list>] [-R <output remaps>] [-C <CE requirements>]
#       [-D <job dir>] [-n <cores>] [-N <host SMP size>] [-S <SMP granularity>] [-z yes|no]
#       [-h <hosts>] [-t <runtime s>] [-m <memory MB>] [-V <environment>] [-v <env>]
#       [-a <extra args>] [-s yes|no] [-d] [-- <arguments>]
#
# A vbatch job runs in its own VM, which shares no filesystem with the CE. So this script
# builds a self-contained job script: the executable, the proxy, stdin and the input files
# travel inside it (base64), the command runs with its arguments, and the output files are
# left in $VBATCH_OUTPUT for vbatchd to keep. The script goes to vbatchd through `qsub`
# (with #PBS directives, like BLAH's pbs_submit.sh); the environment goes as job variables
# (qsub -V of an environment holding exactly the job's variables).
# What has to come back to the CE (stdout, stderr, output files) is recorded in the stage-out
# spool; vbatch_status.sh copies it when the job has ended, before reporting it finished.
#
# On success prints BLAHP_JOBID_PREFIXvbatch/<YYYYMMDD>/<id> and exits 0; on failure
# prints the reason on stderr and exits non-zero.

. "$(dirname "$0")/vbatch_common.sh"

prog=$(basename "$0")
usage="Usage: $prog -c <command> [-i <stdin>] [-o <stdout>] [-e <stderr>] [-w <workdir>] [-q <queue>] [-x <proxy>] [-t <runtime>] [-m <MB>] [-n <cores>] [-V <environment>] [-- arguments]"

fail() {
    echo "$prog: $*" >&2
    [ -n "$wrapper" ] && rm -f "$wrapper"
    exit 1
}

stgcmd=yes
workdir=$PWD
while getopts "a:i:o:e:c:s:v:V:dw:q:n:N:z:h:g:G:M:P:S:r:p:l:x:u:j:T:I:O:R:C:D:m:A:t:" arg; do
    case $arg in
        a) xtra_args=$OPTARG ;;
        i) opt_stdin=$OPTARG ;;
        o) opt_stdout=$OPTARG ;;
        e) opt_stderr=$OPTARG ;;
        v) opt_envir=$OPTARG ;;
        V) opt_environment=$OPTARG ;;
        c) opt_command=$OPTARG ;;
        s) stgcmd=$OPTARG ;;
        d) debug=yes ;;
        w) workdir=$OPTARG ;;
        q) opt_queue=$OPTARG ;;
        n) mpinodes=$OPTARG ;;
        N) hostsmpsize=$OPTARG ;;
        z) wholenodes=$OPTARG ;;
        h) hostnumber=$OPTARG ;;
        S) smpgranularity=$OPTARG ;;
        x) opt_proxy=$OPTARG ;;
        u) opt_subject=$OPTARG ;;
        j) client_id=$OPTARG ;;
        T) tmpdir=$OPTARG ;;
        I) input_list=$OPTARG ;;
        O) output_list=$OPTARG ;;
        R) output_remaps=$OPTARG ;;
        C) req_file=$OPTARG ;;
        D) run_dir=$OPTARG ;;
        m) req_mem=$OPTARG ;;
        A) project=$OPTARG ;;
        t) runtime=$OPTARG ;;
        g | G | M | P | r | p | l) ;; # GPUs, MICs, proxy renewal: nothing vbatch can use
        *) echo "$usage" >&2; exit 1 ;;
    esac
done
shift $((OPTIND - 1))
opt_arguments="$*"

[ -n "$opt_command" ] || { echo "$usage" >&2; exit 1; }
cd "$workdir" 2>/dev/null || fail "Failed to CD to Initial Working Directory ($workdir)"
workdir=$(pwd)

absolute() {
    case $1 in
        /*) printf '%s' "$1" ;;
        *) printf '%s/%s' "$workdir" "$1" ;;
    esac
}

number() {
    case $2 in
        '' | *[!0-9]*) fail "$1 must be a whole number, not '$2'" ;;
    esac
}

# --- Resources ---------------------------------------------------------------------------
[ -z "$mpinodes" ] || number "-n (NodeNumber)" "$mpinodes"
[ -z "$hostsmpsize" ] || number "-N (HostSMPSize)" "$hostsmpsize"
[ -z "$smpgranularity" ] || number "-S (SMPGranularity)" "$smpgranularity"
[ -z "$hostnumber" ] || number "-h (HostNumber)" "$hostnumber"
[ -z "$runtime" ] || number "-t (BatchRuntime)" "$runtime"
[ -z "$req_mem" ] || number "-m (RequestMemory)" "$req_mem"
if [ -n "$hostnumber" ] && [ "$hostnumber" -gt 1 ]; then
    fail "HostNumber=$hostnumber: a vbatch job is one VM on one node"
fi
cores=
if [ "$wholenodes" = yes ] && [ -n "$hostsmpsize" ]; then
    cores=$hostsmpsize
elif [ -n "$mpinodes" ]; then
    cores=$mpinodes
fi
if [ -n "$smpgranularity" ] && { [ -z "$cores" ] || [ "$smpgranularity" -gt "$cores" ]; }; then
    cores=$smpgranularity
fi

# --- Where things go back to on the CE ------------------------------------------------------
spool=$(vbatch_blah_spool) || fail "no usable stage-out directory (set VBATCH_BLAH_SPOOL or vbatch_spooldir)"
record=""
add_record() {
    case $2 in
        *$'\n'*) fail "path contains a newline: cannot record it" ;;
    esac
    record+="$1 $2"$'\n'
}

stdout_path=""
stderr_path=""
join=""
[ -z "$opt_stdout" ] || stdout_path=$(absolute "$opt_stdout")
[ -z "$opt_stderr" ] || stderr_path=$(absolute "$opt_stderr")
if [ -n "$stdout_path" ] && [ "$stdout_path" = "$stderr_path" ]; then
    join=yes
fi
[ -z "$stdout_path" ] || [ "$stdout_path" = /dev/null ] || add_record stdout "$stdout_path"
[ -z "$stderr_path" ] || [ -n "$join" ] || [ "$stderr_path" = /dev/null ] || add_record stderr "$stderr_path"

# --- The job script -------------------------------------------------------------------------
tmpdir=${tmpdir:-${TMPDIR:-/tmp}}
mkdir -p "$tmpdir" 2>/dev/null
wrapper=$(mktemp "$tmpdir/vbatch_blah_XXXXXX") || fail "cannot create a temporary file in $tmpdir"

name=blah
if [ -n "$client_id" ]; then
    name=blah_$(printf '%s' "$client_id" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-100)
fi

{
    echo "#!/bin/sh"
    echo "# vbatch job wrapper generated by $prog on $(date)"
    echo "#PBS -N $name"
    [ -z "$opt_queue" ] || echo "#PBS -q $opt_queue"
    [ -z "$runtime" ] || echo "#PBS -l walltime=$runtime"
    [ -z "$req_mem" ] || echo "#PBS -l mem=${req_mem}mb"
    [ -z "$cores" ] || echo "#PBS -l nodes=1:ppn=$cores"
} >"$wrapper"

# Site attributes (vbatch_local_submit_attributes.sh) and the job's extra arguments, as
# BLAH's other backends add them: #PBS lines that qsub reads.
attributes_file=~/.blah/vbatch_local_submit_attributes.sh
[ -r "$attributes_file" ] || attributes_file=$vbatch_blah_dir/vbatch_local_submit_attributes.sh
if [ -r "$attributes_file" ]; then
    req_script=$(mktemp "$tmpdir/vbatch_blah_req_XXXXXX") || fail "cannot create a temporary file in $tmpdir"
    {
        echo "#!/bin/bash"
        [ -z "$req_file" ] || [ ! -r "$req_file" ] || cat "$req_file"
        [ -z "$mpinodes" ] || echo "blah_opt_mpinodes=$mpinodes"
        echo ". $(vbatch_quote "$attributes_file")"
    } >"$req_script"
    bash "$req_script" 2>/dev/null | grep '^#' >>"$wrapper"
    rm -f "$req_script"
fi
if [ -n "$xtra_args" ]; then
    printf '%b\n' "$xtra_args" | while IFS= read -r line; do
        [ -n "$line" ] || continue
        case $line in
            '#PBS'*) echo "$line" ;;
            *) echo "#PBS $line" ;;
        esac
    done >>"$wrapper"
fi
[ -z "$project" ] || echo "#PBS -A $project" >>"$wrapper"

# Files shipped inside the script, unpacked into the job's working directory in the VM.
embed() { # local-file name mode
    [ -f "$1" ] && [ -r "$1" ] || fail "Input sandbox file doesn't exist: $1"
    printf 'vbatch_unpack %s %s <<'"'"'VBATCH_BLAH_EOF'"'"'\n' "$(vbatch_quote "$2")" "$3"
    base64 -w 76 <"$1" || fail "cannot read $1"
    printf 'VBATCH_BLAH_EOF\n'
}

{
    echo
    echo "vbatch_unpack() { base64 -d > \"\$1\" && chmod \"\$2\" \"\$1\"; }"
    echo "vbatch_work=\$(pwd)"
} >>"$wrapper"

run_command=$opt_command
if [ "$stgcmd" = yes ]; then
    command_path=$(absolute "$opt_command")
    command_name=$(basename "$opt_command")
    embed "$command_path" "$command_name" 755 >>"$wrapper"
    run_command=./$command_name
fi

if [ -n "$opt_proxy" ]; then
    proxy_file=$workdir/$(basename "$opt_proxy")
    [ -r "$proxy_file" ] && [ -f "$proxy_file" ] || proxy_file=$(absolute "$opt_proxy")
    if [ -r "$proxy_file" ] && [ -f "$proxy_file" ]; then
        proxy_name=$(basename "$proxy_file")
        embed "$proxy_file" "$proxy_name" 600 >>"$wrapper"
        echo "X509_USER_PROXY=\$vbatch_work/$(vbatch_quote "$proxy_name"); export X509_USER_PROXY" >>"$wrapper"
    fi
fi

redirections=""
if [ -n "$opt_stdin" ]; then
    stdin_path=$(absolute "$opt_stdin")
    if [ -f "$stdin_path" ]; then
        embed "$stdin_path" .vbatch_stdin 644 >>"$wrapper"
        redirections+=" < .vbatch_stdin"
    else
        redirections+=" < $(vbatch_quote "$opt_stdin")"
    fi
fi
[ -z "$join" ] || redirections+=" 2>&1"

if [ -n "$input_list" ]; then
    [ -r "$input_list" ] || fail "cannot read the input file list $input_list"
    while IFS= read -r xfile || [ -n "$xfile" ]; do
        [ -n "$xfile" ] || continue
        xpath=$(absolute "$xfile")
        mode=644
        [ -x "$xpath" ] && mode=755
        embed "$xpath" "$(basename "$xfile")" "$mode" >>"$wrapper"
    done <"$input_list"
fi

# Environment: -V (new syntax, shell words NAME=value) wins over -v (NAME=value;NAME=value).
env_items=()
if [ -n "$opt_environment" ]; then
    vbatch_split_words "$opt_environment" || fail "cannot parse the environment: unbalanced quotes"
    env_items=("${vbatch_words[@]}")
elif [ -n "$opt_envir" ]; then
    IFS=';' read -r -a env_items <<<"$opt_envir"
fi
job_env=()
for item in "${env_items[@]}"; do
    case $item in
        *=*) ;;
        *) continue ;;
    esac
    var=${item%%=*}
    if ! [[ $var =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        echo "$prog: skipping environment variable with an invalid name: $var" >&2
        continue
    fi
    job_env+=("$item")
done
# The grid identity behind the pool account, for accounting (APEL's GlobalUserName).
[ -z "$opt_subject" ] || job_env+=("VBATCH_GRID_SUBJECT=$opt_subject")

# Arguments: BLAH passes them as shell words after --.
vbatch_split_words "$opt_arguments" || fail "cannot parse the arguments: unbalanced quotes"
command_line=$(vbatch_quote "$run_command")
for word in "${vbatch_words[@]}"; do
    command_line+=" $(vbatch_quote "$word")"
done

{
    echo
    echo "# The command"
    [ "$stgcmd" = yes ] && echo "chmod u+x $(vbatch_quote "$run_command") 2>/dev/null"
    echo "$command_line$redirections"
    echo "vbatch_rc=\$?"
} >>"$wrapper"

# Output files: left in $VBATCH_OUTPUT/blah/N, copied to their destination by vbatch_status.sh.
if [ -n "$output_list" ]; then
    [ -r "$output_list" ] || fail "cannot read the output file list $output_list"
    remaps=()
    if [ -n "$output_remaps" ] && [ -r "$output_remaps" ]; then
        mapfile -t remaps <"$output_remaps"
    fi
    index=0
    line_no=0
    echo 'mkdir -p "$VBATCH_OUTPUT/blah"' >>"$wrapper"
    while IFS= read -r xfile || [ -n "$xfile" ]; do
        remap=${remaps[$line_no]}
        line_no=$((line_no + 1))
        [ -n "$xfile" ] || continue
        [ -n "$remap" ] || remap=$xfile
        echo "cp $(vbatch_quote "$xfile") \"\$VBATCH_OUTPUT/blah/$index\" 2>/dev/null" >>"$wrapper"
        add_record "file $index" "$(absolute "$remap")"
        index=$((index + 1))
    done <"$output_list"
fi
echo 'exit $vbatch_rc' >>"$wrapper"

if [ "$debug" = yes ]; then
    cat "$wrapper" >&2
    rm -f "$wrapper"
    exit 255
fi

size=$(wc -c <"$wrapper")
if [ "$size" -gt 1048576 ]; then
    fail "the job script with its input files is $size bytes, more than vbatch's 1 MiB limit"
fi

# --- Submit ---------------------------------------------------------------------------------
errors=$(mktemp "$tmpdir/vbatch_blah_err_XXXXXX") || fail "cannot create a temporary file in $tmpdir"
# qsub runs in a clean environment: the submitter's session (for the job's PBS_O_HOME,
# PBS_O_PATH, PBS_O_LOGNAME, PBS_O_LANG, as qsub gives every job), qsub's own settings, and
# the job's variables, which alone go to the job (-v NAME takes each value as it is from
# the environment, whatever it holds).
qsub_env=()
for name in HOME PATH LOGNAME USER LANG SHELL MAIL VBATCH_SOCKET PBS_DEFAULT VBATCH_PBS_DEFAULT_QUEUE VBATCH_PBS_SERVER; do
    [ -z "${!name}" ] || qsub_env+=("$name=${!name}")
done
qsub_env+=("${job_env[@]}")
names=""
for item in "${job_env[@]}"; do names+="${names:+,}${item%%=*}"; done
jobid=$(env -i "${qsub_env[@]}" "$vbatch_bin" qsub ${names:+-v "$names"} "$wrapper" 2>"$errors")
retcode=$?
message=$(cat "$errors")
rm -f "$errors"
if [ "$retcode" -ne 0 ]; then
    fail "Error from qsub: $message"
fi
number=$(vbatch_blah_numeric_id "$jobid") || fail "Error from qsub: no job id in '$jobid' $message"

if [ -n "$record" ]; then
    record_tmp=$(mktemp "$spool/.$number.XXXXXX") &&
        printf '%s' "$record" >"$record_tmp" &&
        mv -f "$record_tmp" "$spool/$number" || {
        rm -f "$record_tmp"
        vbatch_run qdel "$number" >/dev/null 2>&1
        fail "cannot write the stage-out record in $spool; job $number deleted"
    }
fi
rm -f "$wrapper"

echo "BLAHP_JOBID_PREFIXvbatch/$(date +%Y%m%d)/$number"
exit 0
