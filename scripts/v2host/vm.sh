#!/usr/bin/env bash
# Boots and stops the cgroup v2 test VM (image from scripts/v2host/image.sh).
#
#   dir=$(bash scripts/v2host/vm.sh start)   # boots, waits for SSH and Docker, prints the run folder
#   bash scripts/v2host/vm.sh start "$dir"    # the same in a run folder the caller made (mktemp -d
#                                             # "${TMPDIR:-/tmp}/mmg-v2host.XXXXXX"), so it can always stop it
#   . "$dir/env"                             # DOCKER_HOST=unix://$dir/docker.sock, PATH with an ssh that knows v2host
#   docker info; ssh v2host systemctl is-system-running
#   bash scripts/v2host/vm.sh stop "$dir"     # stops QEMU by its pid and removes the folder
#
# The run folder (under $TMPDIR) holds everything of one boot: the disk overlay (the cached image is never
# written), the swap disk, the serial console log, QEMU's pid file, and the SSH client setup: ssh_config
# (Host v2host = 127.0.0.1:<port>, the image's key, its pinned host key), bin/ssh (ssh with that config,
# so `docker -H ssh://v2host`, verify and the PidsLimit provider's ssh find it) and host.json for the tests.
#
# Two ways to the VM's engine, both over the one SSH connection on the forwarded port:
#   ssh://v2host           as an operator reaches a remote host: every request starts `docker system
#                          dial-stdio` in the VM, about 5 s each under emulation;
#   unix://<run>/docker.sock  the VM's /var/run/docker.sock forwarded by that SSH connection (ssh -L):
#                          no process in the VM per request, what the bulk of the suite uses.
#
# QEMU runs with TCG (software emulation): KVM opens on these machines but its vCPUs fail ("failed to
# set MSR 0x10a"). It boots in about a minute and runs several times slower than the host. Networking is
# QEMU's user mode: the VM reaches nothing, and only its SSH port is forwarded, to 127.0.0.1.
#
# Environment: V2HOST_MEMORY_MIB (default 2048), V2HOST_CPUS (2), V2HOST_SWAP (1G),
# V2HOST_BOOT_SECONDS (how long to wait for SSH and Docker, default 600).
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
MEMORY_MIB=${V2HOST_MEMORY_MIB:-2048}
CPUS=${V2HOST_CPUS:-2}
SWAP=${V2HOST_SWAP:-1G}
BOOT_SECONDS=${V2HOST_BOOT_SECONDS:-600}
ALIAS=v2host

log() { echo "v2host vm: $*" >&2; }

# A free port on 127.0.0.1, as the kernel hands them out (node is there: the tests need it anyway).
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

start() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 || { log "needs qemu-system-x86_64 (apt-get install -y qemu-system-x86 qemu-utils)"; exit 1; }
  local image run=${1:-} port
  if [ -n "$run" ]; then
    is_run_folder "$run" && [ -d "$run" ] && [ -z "$(ls -A "$run")" ] || { log "'$run' is not an empty run folder (mktemp -d \"\${TMPDIR:-/tmp}/mmg-v2host.XXXXXX\")"; exit 1; }
  else
    run=$(mktemp -d "${TMPDIR:-/tmp}/mmg-v2host.XXXXXX")
  fi
  image=$(bash "$HERE/image.sh")
  # From here on, a failure or an interruption (Ctrl-C, a CI runner cancelling) stops what was started
  # and removes the folder.
  trap 'log "start failed; console log tail:"; tail -n 40 "$run/console.log" >&2 2>/dev/null || true; stop "$run"' ERR
  trap 'log "interrupted while starting"; stop "$run"; exit 130' INT TERM

  qemu-img create -q -f qcow2 -F raw -b "$image/rootfs.img" "$run/root.qcow2"
  qemu-img create -q -f qcow2 "$run/swap.qcow2" "$SWAP"
  install -m 600 "$image/id_ed25519" "$run/id_ed25519"
  port=$(free_port)
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$image/host_key.pub")" >"$run/known_hosts"
  cat >"$run/ssh_config" <<EOF
Host $ALIAS
  HostName 127.0.0.1
  Port $port
  User root
  IdentityFile $run/id_ed25519
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile $run/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
  ConnectTimeout 20
  # One TCP connection and one key exchange for all sessions: each new SSH handshake costs the
  # emulated VM a second or more.
  ControlMaster auto
  ControlPath $run/ssh-%C
  ControlPersist yes
EOF
  mkdir "$run/bin"
  printf '#!/bin/sh\nexec %s -F %s "$@"\n' "$(command -v ssh)" "$run/ssh_config" >"$run/bin/ssh"
  chmod +x "$run/bin/ssh"

  log "booting (TCG, ${CPUS} vCPUs, ${MEMORY_MIB} MiB, swap ${SWAP}, ssh on 127.0.0.1:$port)"
  SECONDS=0
  qemu-system-x86_64 \
    -name metamcp-guard-v2host \
    -accel tcg,thread=multi -cpu max -smp "$CPUS" -m "$MEMORY_MIB" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet mitigations=off systemd.show_status=0" \
    -drive "file=$run/root.qcow2,if=virtio,format=qcow2" \
    -drive "file=$run/swap.qcow2,if=virtio,format=qcow2" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0 \
    -display none -serial "file:$run/console.log" -monitor none \
    -daemonize -pidfile "$run/qemu.pid"

  local ssh=("$run/bin/ssh" "$ALIAS")
  until "${ssh[@]}" true 2>/dev/null; do
    ((SECONDS < BOOT_SECONDS)) || { log "no SSH after ${BOOT_SECONDS}s"; false; }
    kill -0 "$(cat "$run/qemu.pid")" 2>/dev/null || { log "QEMU exited"; false; }
    sleep 2
  done
  local ssh_after=$SECONDS
  # The engine's socket, forwarded over the shared connection (stop() ends that connection).
  "$run/bin/ssh" -O forward -L "$run/docker.sock:/var/run/docker.sock" "$ALIAS"
  until DOCKER_HOST="unix://$run/docker.sock" docker info >/dev/null 2>&1; do
    ((SECONDS < BOOT_SECONDS)) || { log "Docker does not answer after ${BOOT_SECONDS}s"; "${ssh[@]}" systemctl status docker >&2 || true; false; }
    sleep 2
  done
  log "SSH after ${ssh_after}s, Docker after ${SECONDS}s: $("${ssh[@]}" "stat -fc %T /sys/fs/cgroup; docker info --format 'Docker {{.ServerVersion}}, cgroup v{{.CgroupVersion}}, {{.CgroupDriver}} driver'; swapon --show=NAME,SIZE --noheadings" | tr '\n' ' ')"

  cat >"$run/env" <<EOF
export DOCKER_HOST=unix://$run/docker.sock
export PATH=$run/bin:\$PATH
export METAMCP_GUARD_V2HOST=$run/host.json
EOF
  cat >"$run/host.json" <<EOF
{
  "alias": "$ALIAS",
  "dockerHost": "unix://$run/docker.sock",
  "sshDockerHost": "ssh://$ALIAS",
  "sshHost": "127.0.0.1",
  "sshPort": $port,
  "sshUser": "root",
  "keyFile": "$run/id_ed25519",
  "hostKey": "$(cut -d' ' -f1,2 "$image/host_key.pub")",
  "binDir": "$run/bin",
  "bootSeconds": $SECONDS
}
EOF
  trap - ERR INT TERM
  echo "$run"
}

# Stops QEMU by the pid it wrote (politely first: SIGTERM makes QEMU exit at once, the guest's disk is a
# throwaway overlay), ends the SSH control master, and removes the run folder. Safe to call twice.
is_run_folder() {
  case "$1" in "${TMPDIR:-/tmp}"/mmg-v2host.*) return 0 ;; *) return 1 ;; esac
}

stop() {
  local run=$1
  is_run_folder "$run" || { log "refusing to stop '$run': not a run folder of this script"; return 1; }
  [ -d "$run" ] || return 0
  if [ -f "$run/ssh_config" ]; then
    # The shared connection (and the socket forward) lives in a background ssh: end it, by its pid if need be.
    local master
    # No master yet (stopped while still booting) makes `-O check` fail: under errexit and pipefail that
    # must not end stop() before QEMU is stopped.
    master=$(ssh -F "$run/ssh_config" -O check "$ALIAS" 2>&1 | sed -n 's/.*pid=\([0-9]*\).*/\1/p' || true)
    ssh -F "$run/ssh_config" -O exit "$ALIAS" >/dev/null 2>&1 || true
    if [ -n "$master" ]; then kill "$master" 2>/dev/null || true; fi
  fi
  local pid
  pid=$(cat "$run/qemu.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null || true)" = qemu-system-x86 ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$run"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop "${2:?usage: vm.sh stop <run folder>}" ;;
  *) echo "usage: $0 start [<empty run folder>] | stop <run folder>" >&2; exit 2 ;;
esac
