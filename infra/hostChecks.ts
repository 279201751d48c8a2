/**
 * What only the Docker host, or this machine, can tell, asked while the program runs (preview and up),
 * before any resource is declared: a CPU cap above the host's CPUs passes the schema but Docker refuses the
 * container ("Range of CPUs is from 0.01 to N"), so it is refused here, at preview, with the key; and an
 * ssh client too old to pin the host key for the Docker provider (sshPin.ts) is refused before it is used.
 */
import type { KeyProblem } from "./capacity";
import type { StackConfig } from "./config";
import { runCommand, type ShellResult } from "./exec";
import { dockerRequest } from "./pidsLimit/dockerApi";

/** Each container's CPU cap with the key that sets it (only the containers the stack runs). */
export function cpuCaps(config: StackConfig): Array<{ key: string; cpus: number }> {
  return [
    { key: "app.limits.cpus", cpus: config.app.limits.cpus },
    ...(config.database.mode === "internal" ? [{ key: "database.limits.cpus", cpus: config.database.limits.cpus }] : []),
    ...(config.monitor.enabled ? [{ key: "monitor.limits.cpus", cpus: config.monitor.limits.cpus }] : []),
    ...(config.guard.enabled ? [{ key: "guard.limits.cpus", cpus: config.guard.limits.cpus }] : []),
  ];
}

/** CPU caps the host cannot give (pure). */
export function cpuProblems(config: StackConfig, hostCpus: number): KeyProblem[] {
  return cpuCaps(config)
    .filter(({ cpus }) => cpus > hostCpus)
    .map(({ key, cpus }) => ({
      key,
      message: `${cpus} is more than the Docker host has (${hostCpus} CPU${hostCpus === 1 ? "" : "s"}); allowed: 0.01 to ${hostCpus}`,
    }));
}

/** The host's CPU count from the Engine API's /info, or undefined when the host does not answer in time. */
export async function dockerHostCpus(dockerHost: string, hostKey?: string, timeoutMs = 10_000): Promise<number | undefined> {
  try {
    const res = await dockerRequest(dockerHost, "GET", "/info", undefined, { timeoutMs, hostKey });
    const cpus = res.status === 200 ? (JSON.parse(res.body) as { NCPU?: unknown }).NCPU : undefined;
    return typeof cpus === "number" && cpus > 0 ? cpus : undefined;
  } catch {
    return undefined;
  }
}

/** `ssh -G` only prints the configuration it would use: no connection is made. */
export const KNOWN_HOSTS_COMMAND_PROBE = ["-G", "-o", "KnownHostsCommand=/bin/true", "--", "localhost"];

/**
 * Whether this machine's ssh can run the Docker provider's pinned connection, from what
 * `ssh ${KNOWN_HOSTS_COMMAND_PROBE}` did (pure): KnownHostsCommand needs OpenSSH 8.5 or later.
 */
export function sshClientProblem(probe: ShellResult): KeyProblem | undefined {
  if (probe.code === 0) return undefined;
  const said = probe.stderr.trim().split("\n").pop() ?? "";
  const why = /ENOENT|not found/i.test(said)
    ? "there is no ssh client on this machine"
    : /Bad configuration option|Unsupported option/i.test(said)
      ? `this machine's ssh is older than OpenSSH 8.5 (${said})`
      : `ssh -G failed (${said || `exit ${probe.code}`})`;
  return {
    key: "dockerHost",
    message: `is ssh://, and the Docker provider reaches it with this machine's ssh, pinned to host.ssh.hostKey through KnownHostsCommand (OpenSSH 8.5 or later), but ${why}; install a newer OpenSSH client`,
  };
}

/** Runs the probe (only for an ssh:// dockerHost). */
export async function checkSshClient(): Promise<KeyProblem | undefined> {
  return sshClientProblem(await runCommand("ssh", KNOWN_HOSTS_COMMAND_PROBE, 10_000));
}
