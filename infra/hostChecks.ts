/**
 * What only the Docker host can tell, asked while the program runs (preview and up), before any
 * resource is declared: a CPU cap above the host's CPUs passes the schema but Docker refuses the
 * container ("Range of CPUs is from 0.01 to N"), so it is refused here, at preview, with the key.
 */
import type { KeyProblem } from "./capacity";
import type { StackConfig } from "./config";
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
export async function dockerHostCpus(dockerHost: string, timeoutMs = 10_000): Promise<number | undefined> {
  try {
    const res = await dockerRequest(dockerHost, "GET", "/info", undefined, { timeoutMs });
    const cpus = res.status === 200 ? (JSON.parse(res.body) as { NCPU?: unknown }).NCPU : undefined;
    return typeof cpus === "number" && cpus > 0 ? cpus : undefined;
  } catch {
    return undefined;
  }
}
