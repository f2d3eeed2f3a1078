#!/usr/bin/env bash
# A one-node SLURM cluster with accounting, for the `slurm` test tier (tests/test_slurm.py):
# munge, MariaDB, slurmdbd, slurmctld and slurmd from Debian's packages, all on this machine.
#   cluster.sh install   the packages (apt-get, as root)
#   cluster.sh up        configure and start everything; waits until the node is idle
#   cluster.sh down      stop everything this script started (nothing stays running)
# Root only: it writes /etc/slurm and /etc/munge and starts daemons.
set -euo pipefail
STATE=/tmp/plastic-slurm          # the logs and pid files of this cluster
CONF=/etc/slurm
HOST=$(hostname -s)

install() {
  if command -v slurmctld >/dev/null && command -v slurmdbd >/dev/null \
      && command -v mariadbd >/dev/null && command -v munged >/dev/null; then return; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm slurmdbd mariadb-server munge \
    >/dev/null
}

wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local limit=$1; shift
  for _ in $(seq "$limit"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "cluster.sh: timed out waiting for: $*" >&2; return 1
}

start_munge() {
  mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
  chmod 400 /etc/munge/munge.key
  runuser -u munge -- munged
  wait_for 10 munge -n
}

start_mariadb() {
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
    --pid-file=/run/mysqld/mariadbd.pid --skip-networking=0 --bind-address=127.0.0.1 \
    >"$STATE/mariadbd.log" 2>&1 &
  wait_for 30 mariadb -e "select 1"
  mariadb -e "create user if not exists 'slurm'@'localhost' identified by 'plastic';
              grant all on slurm_acct_db.* to 'slurm'@'localhost'; flush privileges;"
}

write_configs() {
  local cpus memory
  cpus=$(nproc)
  memory=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 3 / 4 ))
  mkdir -p "$CONF" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  cat >"$CONF/slurmdbd.conf" <<CONFIG
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=plastic
StorageLoc=slurm_acct_db
LogFile=$STATE/slurmdbd.log
PidFile=$STATE/slurmdbd.pid
CONFIG
  chmod 600 "$CONF/slurmdbd.conf"
  cat >"$CONF/slurm.conf" <<CONFIG
ClusterName=plastic
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
# a requeued job may start again once its old credential has expired (120 s by default)
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobRequeue=1
KillWait=20
MinJobAge=600
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=$HOST CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFIG
}

up() {
  install
  down quietly
  mkdir -p "$STATE"
  start_munge
  start_mariadb
  write_configs
  slurmdbd
  wait_for 30 sacctmgr -n list cluster
  sacctmgr -i add cluster plastic >/dev/null 2>&1 || true
  slurmctld -c   # a clean state: no jobs of an earlier cluster
  wait_for 30 scontrol ping
  slurmd
  wait_for 60 bash -c "sinfo -h -o %T | grep -qx idle"
  echo "cluster.sh: SLURM is up (partition debug, $(nproc) CPUs, accounting through slurmdbd)"
}

down() {
  local daemons="slurmd slurmctld slurmdbd mariadbd munged"
  for daemon in $daemons; do pkill -x "$daemon" 2>/dev/null || true; done
  for _ in $(seq 20); do
    local running=0
    for daemon in $daemons; do pgrep -x "$daemon" >/dev/null && running=1; done
    [ "$running" = 0 ] && break
    sleep 0.5
  done
  for daemon in $daemons; do pkill -9 -x "$daemon" 2>/dev/null || true; done
  rm -f "$STATE"/*.pid
  [ "${1:-}" = quietly ] || echo "cluster.sh: SLURM is down"
}

"$@"
