/**
 * Points this test process at the cgroup v2 VM described by METAMCP_GUARD_V2HOST (scripts/v2host/vm.sh
 * writes it): the docker CLI and the PidsLimit provider reach the VM's engine through its socket forwarded
 * over SSH (DOCKER_HOST), and ssh://v2host through the run folder's `ssh` (first on PATH), which knows the
 * alias, the key and the pinned host key. Without the variable nothing changes, and the suites skip (or fail in CI).
 */
import { v2HostDescription } from "../support/engineHost";

const vm = v2HostDescription();
if (vm) {
  process.env.DOCKER_HOST = vm.dockerHost;
  if (!(process.env.PATH ?? "").split(":").includes(vm.binDir)) process.env.PATH = `${vm.binDir}:${process.env.PATH ?? ""}`;
}
