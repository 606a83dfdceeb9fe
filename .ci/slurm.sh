#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the SLURM tests (tests/test_slurm.py).
#
#   bash .ci/slurm.sh up       install (apt-get, once) and start it; waits until it answers
#   bash .ci/slurm.sh down     stop it (the installed packages and the accounting db stay)
#   bash .ci/slurm.sh status   what runs; exit 0 only if the cluster answers
#
# Run as root. Daemons are started directly (no systemd): munged, mariadbd (a private
# data dir, 127.0.0.1 only), slurmdbd (so that `sacct` knows finished, cancelled and
# crashed jobs: submitit and zenspec ask it), slurmctld and slurmd, all as root, the
# controller and the node on 127.0.0.1. No cgroups (proctrack/linuxproc, task/none).
# `up` twice is a no-op; `down` then `up` works; state lives in $STATE.
set -euo pipefail

STATE=${ZENSPEC_SLURM_STATE:-/var/lib/zenspec-slurm}
CLUSTER=zenspec
DB_PORT=${ZENSPEC_SLURM_DB_PORT:-3307}
DB_PASS=zenspec-slurm-ci # a local, loopback-only database of a throwaway cluster
CONF_DIR=/etc/slurm
NODE=$(hostname -s)
PACKAGES=(slurm-wlm slurm-client slurmdbd munge mariadb-server)

log() { echo "slurm.sh: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

alive() { # alive <pidfile>: the pid in it runs, and is one of the cluster's daemons
  # (pids wrap around quickly on a busy machine: a stale pidfile must not name a stranger)
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null &&
    grep -qxE 'munged|mariadbd|mysqld|slurmdbd|slurmctld|slurmd' "/proc/$(cat "$1")/comm" 2>/dev/null
}

wait_for() { # wait_for <seconds> <what> <command...>
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then
      return 1
    fi
    sleep 0.5
  done
}

install_packages() {
  local missing=()
  for cmd in sbatch sacct sinfo slurmctld slurmd slurmdbd munged mariadbd mariadb-install-db; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
  command -v apt-get >/dev/null || die "apt-get not found: install ${PACKAGES[*]} by hand"
  # packages must not start their services (this script starts them, its own way)
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"$STATE/apt.log" 2>&1; then
    apt-get update -q >>"$STATE/apt.log" 2>&1 || true
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1 ||
      { [ "$made_policy" = 1 ] && rm -f "$policy"; tail -20 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
  fi
  [ "$made_policy" = 1 ] && rm -f "$policy"
  return 0
}

# -- configuration -------------------------------------------------------------------------

write_if_changed() { # write_if_changed <path> <mode>  (content on stdin); 0 if changed
  local path=$1 mode=$2 tmp
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$path"
  return 0
}

CHANGED=0
write_config() {
  local cpus mem_mb
  cpus=$(nproc)
  # the machine's memory, minus a margin for the daemons and the login side
  mem_mb=$(free -m | awk '/^Mem:/ {print $2}')
  mem_mb=$((mem_mb > 2048 ? mem_mb - 1024 : mem_mb * 3 / 4))
  mkdir -p "$CONF_DIR" "$STATE"/{spool/ctld,spool/d,log,run}
  write_if_changed "$CONF_DIR/slurm.conf" 644 <<EOF && CHANGED=1
# written by .ci/slurm.sh: a single-node test cluster (no cgroups, root daemons)
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,sched_min_interval=100000,batch_sched_delay=0,bf_interval=1
ReturnToService=2
KillWait=5
MinJobAge=10
OverTimeLimit=0
InactiveLimit=0
MessageTimeout=10
SlurmctldTimeout=60
SlurmdTimeout=120
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  write_if_changed "$CONF_DIR/slurmdbd.conf" 600 <<EOF && CHANGED=1
# written by .ci/slurm.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
  chown root:root "$CONF_DIR/slurmdbd.conf"
  return 0
}

# -- daemons -------------------------------------------------------------------------------

start_munge() {
  alive "$STATE/run/munged.pid" && return 0
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then mungekey --create --force; else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
    fi
  fi
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 755 /run/munge
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid ||
    die "munged did not start (see /var/log/munge/munged.log)"
  wait_for 10 munged test -s /run/munge/munged.pid || die "munged wrote no pid file"
  cp /run/munge/munged.pid "$STATE/run/munged.pid"
  wait_for 10 munge sh -c 'munge -n | unmunge' || die "munge does not answer"
}

mysql_q() {
  mariadb --no-defaults --protocol=socket -S "$STATE/run/mysqld.sock" -uroot -e "$1"
}

start_mariadb() {
  if ! alive "$STATE/run/mysqld.pid"; then
    local fresh=0
    if [ ! -d "$STATE/mysql/mysql" ]; then
      rm -rf "$STATE/mysql"
      mkdir -p "$STATE/mysql"
      chown mysql:mysql "$STATE/mysql"
      mariadb-install-db --no-defaults --user=mysql --datadir="$STATE/mysql" \
        --auth-root-authentication-method=socket --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 ||
        { tail -20 "$STATE/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
      fresh=1
    fi
    chown mysql:mysql "$STATE/run" "$STATE/log"
    # its own session: no signal meant for a test's process group reaches it
    setsid nohup mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql" \
      --socket="$STATE/run/mysqld.sock" --pid-file="$STATE/run/mysqld.pid" \
      --bind-address=127.0.0.1 --port="$DB_PORT" --log-error="$STATE/log/mariadb.log" \
      --innodb-use-native-aio=0 --innodb-buffer-pool-size=64M --skip-name-resolve \
      --innodb-lock-wait-timeout=900 >/dev/null 2>&1 &
    wait_for 60 mariadb mysql_q "SELECT 1" ||
      { tail -20 "$STATE/log/mariadb.log" >&2; die "mariadbd does not answer"; }
    [ "$fresh" = 1 ] || true
  fi
  mysql_q "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    FLUSH PRIVILEGES;" || die "could not create the accounting database"
}

start_daemon() { # start_daemon <name> <pidfile> <command...>
  local name=$1 pidfile=$2
  shift 2
  alive "$pidfile" && return 0
  rm -f "$pidfile"
  "$@" || die "$name did not start (see $STATE/log/$name.log)"
  wait_for 20 "$name" alive "$pidfile" ||
    { tail -20 "$STATE/log/$name.log" >&2 || true; die "$name exited at start (log: $STATE/log/$name.log)"; }
}

node_idle() {
  sinfo -h -n "$NODE" -o "%t" 2>/dev/null | grep -Eq '^(idle|mix|alloc|comp)'
}

answers() { # the cluster is usable: the node takes jobs and accounting answers
  node_idle && sacct -n -X -S now-1minute >/dev/null 2>&1
}

stop_pidfile() { # stop_pidfile <name> <pidfile>
  local name=$1 pidfile=$2 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local end=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$end" ]; then
        log "$name ($pid) did not stop on SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
  fi
  rm -f "$pidfile"
}

up() {
  [ "$(id -u)" = 0 ] || die "run as root (the daemons and the test jobs run as root)"
  mkdir -p "$STATE"
  install_packages
  write_config
  if [ "$CHANGED" = 1 ]; then
    # a changed configuration: daemons started with the old one are restarted
    for d in slurmd slurmctld slurmdbd; do stop_pidfile "$d" "$STATE/run/$d.pid"; done
  elif answers && alive "$STATE/run/slurmctld.pid" && alive "$STATE/run/slurmd.pid"; then
    log "cluster '$CLUSTER' already up (node $NODE idle, sacct answers)"
    return 0
  fi
  start_munge
  start_mariadb
  start_daemon slurmdbd "$STATE/run/slurmdbd.pid" slurmdbd
  wait_for 30 slurmdbd sacctmgr -n list cluster ||
    { tail -20 "$STATE/log/slurmdbd.log" >&2; die "slurmdbd does not answer sacctmgr"; }
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr could not add cluster $CLUSTER"
  fi
  start_daemon slurmctld "$STATE/run/slurmctld.pid" slurmctld
  start_daemon slurmd "$STATE/run/slurmd.pid" slurmd
  # a node left DOWN/DRAIN by an earlier run comes back
  if ! wait_for 10 node sh -c "sinfo -h -n $NODE -o %t | grep -Eq '^(idle|mix|alloc|comp)'"; then
    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
  fi
  if ! wait_for 60 "the node" node_idle; then
    sinfo -N -l >&2 || true
    tail -20 "$STATE/log/slurmd.log" "$STATE/log/slurmctld.log" >&2 || true
    die "node $NODE is not idle after 60 s"
  fi
  if ! wait_for 60 sacct sacct -n -X -S now-1minute; then
    sacct -n -X 2>&1 | tail -5 >&2 || true
    die "sacct does not answer (slurmdbd log: $STATE/log/slurmdbd.log)"
  fi
  log "cluster '$CLUSTER' up: node $NODE ($(nproc) CPUs), partition debug, sacct answers"
}

down() {
  stop_pidfile slurmd "$STATE/run/slurmd.pid"
  stop_pidfile slurmctld "$STATE/run/slurmctld.pid"
  stop_pidfile slurmdbd "$STATE/run/slurmdbd.pid"
  stop_pidfile mariadbd "$STATE/run/mysqld.pid"
  stop_pidfile munged "$STATE/run/munged.pid"
  rm -f /run/munge/munged.pid
  log "cluster '$CLUSTER' down"
}

status() {
  local d ok=0
  for d in munged mysqld slurmdbd slurmctld slurmd; do
    if alive "$STATE/run/$d.pid"; then echo "$d: running (pid $(cat "$STATE/run/$d.pid"))"; else
      echo "$d: stopped"
      ok=1
    fi
  done
  if answers; then
    sinfo
  else
    echo "the cluster does not answer (sinfo/sacct)"
    ok=1
  fi
  return "$ok"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*)
  echo "usage: bash $0 up|down|status" >&2
  exit 2
  ;;
esac
