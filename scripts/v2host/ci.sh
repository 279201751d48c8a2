#!/usr/bin/env bash
# The cgroup v2 step of CI, and the way to run it on a workstation: build (or reuse) the VM image, boot the
# VM, run the focused v2 suite (vitest.v2host.config.mts, test/v2host/) against its Docker engine over SSH,
# and stop the VM and remove its files whatever happens. Prints how long each part took; exits with the
# suite's status (1 when the VM cannot be built or booted: in CI a missing VM is a failure).
#
#   bash scripts/v2host/ci.sh            # as .ci/run does (needs root: debootstrap, and QEMU from apt)
#
# Shell, not TypeScript: the work is debootstrap, chroot, qemu-img and QEMU, and a trap is the simplest
# way to stop a VM on every exit path.
set -uo pipefail
cd "$(dirname "$0")/../.."

run=""
stop_vm() {
  if [ -n "$run" ]; then bash scripts/v2host/vm.sh stop "$run"; fi
  run=""
}
trap stop_vm EXIT
trap 'exit 130' INT TERM

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "v2host: installing ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } || { echo "v2host: cannot install ${need[*]}" >&2; exit 1; }
fi

SECONDS=0
image=$(bash scripts/v2host/image.sh) || { echo "v2host: FAILED to build the VM image" >&2; exit 1; }
image_seconds=$SECONDS
echo "v2host: image $image ready after ${image_seconds}s"

run=$(mktemp -d "${TMPDIR:-/tmp}/mmg-v2host.XXXXXX")
bash scripts/v2host/vm.sh start "$run" >/dev/null || { echo "v2host: FAILED to boot the VM" >&2; exit 1; }
boot_seconds=$((SECONDS - image_seconds))
echo "v2host: VM up after ${boot_seconds}s (load: $(cut -d' ' -f1-3 /proc/loadavg))"

# shellcheck source=/dev/null
. "$run/env"
mkdir -p test-results
rm -f test-results/v2host.json
suite_start=$SECONDS
npx vitest run --config vitest.v2host.config.mts --reporter=default --reporter=json --outputFile.json=test-results/v2host.json
status=$?
echo "v2host: image ${image_seconds}s, boot ${boot_seconds}s, suite $((SECONDS - suite_start))s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
exit $status
