/**
 * The machine the engine suites' Docker engine runs on, with its files and a root shell there: this
 * machine by default, or the cgroup v2 VM when METAMCP_GUARD_V2HOST names the host.json that
 * scripts/v2host/vm.sh writes. Tests read cgroup files and the kernel log through this, never through
 * node:fs, so the same test reads this machine's cgroup v1 and the VM's cgroup v2 over SSH.
 *
 *     const host = engineHost();
 *     const files = await host.files.read(["/proc/1/cgroup"]);
 *     const { stdout } = await host.sh("dmesg");
 *
 * The docker CLI and the PidsLimit provider reach the VM's engine through its socket forwarded over SSH
 * (DOCKER_HOST=unix://<run>/docker.sock), and ssh:// users (verify) through the `ssh` of the run folder's
 * bin/ (on PATH), both of which test/v2host/setup.ts puts in the environment.
 */
import { readFileSync } from "node:fs";
import { runCommand, type ShellResult } from "../../infra/exec";
import { filesOverShell, localFiles, type HostFiles } from "../../infra/verify/hostFiles";
import { shellQuote } from "../../infra/host/shell";

/** What scripts/v2host/vm.sh writes to <run folder>/host.json. */
export interface V2HostDescription {
  alias: string;
  /** unix://<run>/docker.sock: the VM's engine socket forwarded over SSH (fast; for the bulk of the tests). */
  dockerHost: string;
  /** ssh://v2host: the VM's engine as an operator reaches a remote host (what verify is given). */
  sshDockerHost: string;
  sshHost: string;
  sshPort: number;
  sshUser: string;
  keyFile: string;
  hostKey: string;
  binDir: string;
}

export interface EngineHost {
  /** For messages: "this machine" or "the cgroup v2 VM". */
  name: string;
  /** The engine as a Docker host string, for the PidsLimit provider and verify. */
  dockerHost: string;
  files: HostFiles;
  /** Runs a POSIX sh script as root on the engine's machine; never rejects for a non-zero exit. */
  sh(script: string): Promise<ShellResult>;
  /** How to reach the VM over SSH (verify-host, slices); undefined for this machine. */
  ssh?: V2HostDescription;
}

export const V2HOST_ENV = "METAMCP_GUARD_V2HOST";

/** The VM's description, or undefined when METAMCP_GUARD_V2HOST is not set. */
export function v2HostDescription(env: NodeJS.ProcessEnv = process.env): V2HostDescription | undefined {
  const file = env[V2HOST_ENV];
  if (!file) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as V2HostDescription;
}

let current: EngineHost | undefined;

/** The engine's machine for this test process (see the file comment). */
export function engineHost(): EngineHost {
  current ??= (() => {
    const vm = v2HostDescription();
    if (!vm) {
      const sh = (script: string) => runCommand("sh", ["-c", script], 300_000);
      return { name: "this machine", dockerHost: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock", files: localFiles(), sh };
    }
    // bin/ssh carries the run folder's ssh_config: host alias, key, pinned host key, one shared connection.
    const sh = (script: string) => runCommand(`${vm.binDir}/ssh`, [vm.alias, `sh -c ${shellQuote(script)}`], 300_000);
    return { name: "the cgroup v2 VM", dockerHost: vm.dockerHost, files: filesOverShell(sh, "the cgroup v2 VM"), sh, ssh: vm };
  })();
  return current;
}
