#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for running sweeps through `submitit_slurm`.
#
#   scripts/slurm-local.sh start    install slurm-wlm + munge if missing, configure, start, wait idle
#   scripts/slurm-local.sh stop     stop slurmctld, slurmd and the munged this script started
#   scripts/slurm-local.sh status   daemons and `sinfo`
#
# Runs as root without systemd (containers, CI). Logs, spool and pid files go under
# $ASFFBENCH_SLURM_HOME (default: ~/.local/state/asffbench-slurm). The generated slurm.conf is
# installed at /etc/slurm/slurm.conf, where Debian's sbatch/sinfo look for it, unless that file
# exists and was not written by this script (then set SLURM_CONF yourself; see the message).
# Environment: ASFFBENCH_SLURM_TIMEOUT (seconds to wait for the node to be idle, default 90),
# ASFFBENCH_SLURM_PARTITION (default: local).
set -euo pipefail

STATE_DIR="${ASFFBENCH_SLURM_HOME:-${XDG_STATE_HOME:-$HOME/.local/state}/asffbench-slurm}"
WAIT_TIMEOUT="${ASFFBENCH_SLURM_TIMEOUT:-90}"
PARTITION="${ASFFBENCH_SLURM_PARTITION:-local}"
SYSTEM_CONF=/etc/slurm/slurm.conf
MARKER="# written by asffbench scripts/slurm-local.sh"
MUNGE_SOCKET_DIR=/run/munge

log() { echo "slurm-local: $*" >&2; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts system daemons)"
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

# Process id from a pid file, if that process is alive.
live_pid() {
    local file="$1" pid
    [ -s "$file" ] || return 1
    pid="$(cat "$file")"
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

start_munge() {
    mkdir -p /etc/munge /var/lib/munge /var/log/munge "$MUNGE_SOCKET_DIR"
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating /etc/munge/munge.key"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    # munged runs as the package's `munge` user when it exists, else as root (--force).
    local owner=root
    id munge >/dev/null 2>&1 && owner=munge
    chown "$owner:" /etc/munge /etc/munge/munge.key /var/lib/munge /var/log/munge "$MUNGE_SOCKET_DIR"
    chmod 0700 /etc/munge /var/lib/munge /var/log/munge
    chmod 0400 /etc/munge/munge.key
    chmod 0755 "$MUNGE_SOCKET_DIR"
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already running"
        return
    fi
    local pidfile="$MUNGE_SOCKET_DIR/munged.pid"
    if [ "$owner" = munge ]; then
        runuser -u munge -- munged --pid-file="$pidfile"
    else
        munged --force --pid-file="$pidfile"
    fi
    cp "$pidfile" "$STATE_DIR/munged.pid.ours"  # stop only ends the munged started here
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "munged did not come up (see /var/log/munge/munged.log)"
}

write_config() {
    local host node_line gres_line="" gres_types=""
    host="$(hostname -s)"
    # slurmd -C prints this node as slurm.conf sees it (CPUs, sockets, cores, RealMemory).
    node_line="$(slurmd -C | grep '^NodeName=')" || die "slurmd -C could not describe this node"
    # Jobs that ask for no memory get an equal share per CPU, so one job does not take the node.
    local cpus mem
    cpus="$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")"
    mem="$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")"
    local gpus=0
    rm -f "$STATE_DIR/gres.conf"  # a GPU description from an earlier start must not outlive its GPUs
    if command -v nvidia-smi >/dev/null; then
        gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
    fi
    if [ "$gpus" -gt 0 ]; then
        gres_types="GresTypes=gpu"
        gres_line=" Gres=gpu:$gpus"
        {
            echo "$MARKER"
            echo "NodeName=$host Name=gpu File=/dev/nvidia[0-$((gpus - 1))]"
        } >"$STATE_DIR/gres.conf"
    fi
    mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/spool" "$STATE_DIR/log"
    cat >"$STATE_DIR/slurm.conf.tmp" <<EOF
$MARKER
# Single node, no accounting, no cgroups (containers often have none).
ClusterName=asffbench
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5  # a small test cluster: schedule promptly
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=60
DefMemPerCPU=$((mem / cpus))
$gres_types
${node_line}${gres_line} State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    mv "$STATE_DIR/slurm.conf.tmp" "$STATE_DIR/slurm.conf"
    if [ -e "$SYSTEM_CONF" ] && ! grep -qF "$MARKER" "$SYSTEM_CONF"; then
        die "$SYSTEM_CONF exists and was not written by this script; move it away, or run the daemons with SLURM_CONF=$STATE_DIR/slurm.conf"
    fi
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    cp "$STATE_DIR/slurm.conf" "$SYSTEM_CONF"
    if [ -f "$STATE_DIR/gres.conf" ]; then
        cp "$STATE_DIR/gres.conf" "$(dirname "$SYSTEM_CONF")/gres.conf"
    fi
}

wait_idle() {
    local deadline=$((SECONDS + WAIT_TIMEOUT)) state=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        state="$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)"
        case "$state" in
            idle|mix|alloc) log "node is $state"; return 0 ;;
            drain*|down*|inval*)
                scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 1
    done
    log "last node state: '${state:-unknown}'; log tails follow"
    tail -n 15 "$STATE_DIR/log/slurmctld.log" "$STATE_DIR/log/slurmd.log" >&2 2>/dev/null || true
    die "the node was not idle within ${WAIT_TIMEOUT}s (ASFFBENCH_SLURM_TIMEOUT)"
}

cmd_start() {
    need_root
    install_packages
    mkdir -p "$STATE_DIR"
    start_munge
    if live_pid "$STATE_DIR/slurmctld.pid" >/dev/null && live_pid "$STATE_DIR/slurmd.pid" >/dev/null; then
        log "slurmctld and slurmd already running"
    else
        write_config
        live_pid "$STATE_DIR/slurmctld.pid" >/dev/null || slurmctld -i
        live_pid "$STATE_DIR/slurmd.pid" >/dev/null || slurmd
    fi
    wait_idle
    log "ready: partition '$PARTITION', state under $STATE_DIR"
}

stop_pidfile() {
    local name="$1" file="$2" pid
    if pid="$(live_pid "$file")"; then
        kill "$pid"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped $name (pid $pid)"
    fi
    rm -f "$file"
}

cmd_stop() {
    need_root
    stop_pidfile slurmd "$STATE_DIR/slurmd.pid"
    stop_pidfile slurmctld "$STATE_DIR/slurmctld.pid"
    if [ -s "$STATE_DIR/munged.pid.ours" ]; then
        local ours
        ours="$(cat "$STATE_DIR/munged.pid.ours")"
        # Only the munged this script started (same pid still in munged's own pid file).
        if [ "$(cat "$MUNGE_SOCKET_DIR/munged.pid" 2>/dev/null)" = "$ours" ]; then
            stop_pidfile munged "$MUNGE_SOCKET_DIR/munged.pid"
        fi
        rm -f "$STATE_DIR/munged.pid.ours"
    fi
}

cmd_status() {
    local name file pid rc=0
    for name in slurmctld slurmd; do
        file="$STATE_DIR/$name.pid"
        if pid="$(live_pid "$file")"; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; rc=3; fi
    done
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then echo "munged: running"; else echo "munged: stopped"; rc=3; fi
    echo "state: $STATE_DIR"
    [ "$rc" -eq 0 ] && sinfo
    return "$rc"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
