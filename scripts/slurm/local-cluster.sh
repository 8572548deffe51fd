#!/usr/bin/env bash
# A real single-node Slurm cluster in a folder, for tests and for trying
# `sooth slurm` without a cluster. Needs root (Slurm's daemons run as root
# here) and Debian's packages, which it installs when they are missing.
#
#   scripts/slurm/local-cluster.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm/local-cluster.sh stop DIR    # cancels its jobs, stops what start started
#
# No systemd: munged, slurmctld and slurmd are started directly; their PIDs
# go to DIR/pids, and `stop` ends exactly those (munged only if `start`
# started it; a munged that was already running is reused and left alone).
# Ports: SOOTH_SLURM_PORT (slurmctld, default 6817) and that + 1 (slurmd).
set -euo pipefail

die() { echo "local-cluster: $*" >&2; exit 1; }

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    if ((${#missing[@]})); then
        echo "local-cluster: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # --no-remove: never take anything off the machine.
        apt-get install -y -qq --no-install-recommends --no-remove \
            slurmctld slurmd slurm-client munge >/dev/null
    fi
}

# Waits until "$@" succeeds, for up to $1 tenths of a second.
wait_for() {
    local tenths=$1
    shift
    for ((i = 0; i < tenths; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

munge_works() { munge -n | unmunge >/dev/null; }

start() {
    local dir=$1
    [[ $(id -u) == 0 ]] || die "start needs root (SlurmUser=root)"
    install_packages
    mkdir -p "$dir"/{state,spool,log}
    dir=$(cd "$dir" && pwd)
    : >"$dir/pids"

    if munge_works 2>/dev/null; then
        echo "local-cluster: reusing the munged that is running"
    else
        [[ -f /etc/munge/munge.key ]] || die "/etc/munge/munge.key is missing (the munge package creates it)"
        install -d -o munge -g munge -m 0755 /run/munge
        runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
        wait_for 50 test -s /run/munge/munged.pid || die "munged did not start (see /var/log/munge/munged.log)"
        echo "munged $(cat /run/munge/munged.pid)" >>"$dir/pids"
        wait_for 50 munge_works || die "munge -n | unmunge fails (see /var/log/munge/munged.log)"
    fi

    local host node port
    host=$(hostname -s)
    # The CPU and memory line slurmd sees, as the node's definition.
    node=$(slurmd -C | head -n 1)
    [[ $node == "NodeName=$host "* ]] || die "slurmd -C printed '$node'"
    port=${SOOTH_SLURM_PORT:-6817}
    cat >"$dir/slurm.conf" <<CONF
# A single-node cluster written by scripts/slurm/local-cluster.sh.
ClusterName=sooth-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf

    slurmctld -D >"$dir/log/slurmctld.out" 2>&1 &
    echo "slurmctld $!" >>"$dir/pids"
    wait_for 100 scontrol ping || die "slurmctld did not answer (see $dir/log/slurmctld.log)"
    slurmd -D -N "$host" >"$dir/log/slurmd.out" 2>&1 &
    echo "slurmd $!" >>"$dir/pids"
    wait_for 100 node_idle "$host" || die "node $host is not idle (see $dir/log/slurmd.log)"
    echo "export SLURM_CONF=$dir/slurm.conf"
}

node_idle() { [[ $(sinfo -h -n "$1" -o %T) == idle ]]; }

alive() { kill -0 "$1" 2>/dev/null; }

stop() {
    local dir=$1
    [[ -f $dir/pids ]] || return 0
    export SLURM_CONF=$dir/slurm.conf
    if grep -q '^slurmctld ' "$dir/pids" && scontrol ping >/dev/null 2>&1; then
        # Every job of this private cluster, so no slurmstepd outlives it.
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
        if [[ -n ${jobs// /} ]]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            wait_for 150 no_jobs || echo "local-cluster: jobs still listed after 15 s" >&2
        fi
        scontrol shutdown >/dev/null 2>&1 || true
    fi
    # The daemons, newest first, by the PIDs start recorded: slurmctld and
    # slurmd end on `scontrol shutdown`, munged on SIGTERM.
    local name pid
    while read -r name pid; do
        [[ -n $pid ]] || continue
        if [[ $name == munged ]]; then kill "$pid" 2>/dev/null || true; fi
        if ! wait_for 30 dead "$pid"; then
            kill "$pid" 2>/dev/null || true
            if ! wait_for 30 dead "$pid"; then
                echo "local-cluster: $name ($pid) ignored SIGTERM; killing it" >&2
                kill -9 "$pid" 2>/dev/null || true
                wait_for 20 dead "$pid" || echo "local-cluster: $name ($pid) survived SIGKILL" >&2
            fi
        fi
    done < <(tac "$dir/pids")
    : >"$dir/pids"
}

no_jobs() { [[ -z $(squeue -h -o %A 2>/dev/null) ]]; }

dead() { ! alive "$1"; }

case "${1:-}" in
start) [[ $# == 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
stop) [[ $# == 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
*) die "usage: $0 start DIR | stop DIR" ;;
esac
