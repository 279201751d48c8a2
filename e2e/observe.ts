/**
 * What the run measures, read from the kernel and from the programs themselves: MetaMCP's tasks and
 * memory from its container's own cgroup (what its caps bind), its MCP server groups from its process
 * table, the guard's sessions from its /metrics, the monitor's reaps from its audit log.
 */
import { execFile } from "node:child_process";
import { containerCgroup, readMemory, readPids } from "../test/load/support/cgroup";
import { parseExposition } from "../test/monitor/support/prom";
import { docker } from "../test/support/dockerCli";

export interface Sample {
  /** Seconds since the run began. */
  t: number;
  tasks: number;
  memoryMiB: number;
  /** `npm exec` leaders in MetaMCP's PID namespace: one per MCP server group. */
  groups: number;
  /** Sessions the guard tracks. */
  guardSessions: number;
}

/** One reading; undefined fields when MetaMCP is between restarts. */
export async function sample(appId: string, guardMetricsPort: number, startedAt: number): Promise<Sample> {
  const t = Math.round((Date.now() - startedAt) / 1000);
  const cgroup = containerCgroup(appId);
  const [tasks, memoryMiB, groups, metrics] = await Promise.all([
    cgroup.then(readPids).then((p) => p.current, () => NaN),
    cgroup.then(readMemory).then((m) => Math.round(m.current / 2 ** 20), () => NaN),
    serverGroups(appId).catch(() => NaN),
    guardMetrics(guardMetricsPort).catch(() => ({}) as Record<string, number>),
  ]);
  return { t, tasks, memoryMiB, groups, guardSessions: metrics.metamcp_guard_sessions ?? NaN };
}

/** MCP server groups alive in the container: MetaMCP starts each with `npm exec <package>`. */
export async function serverGroups(containerId: string): Promise<number> {
  const table = await docker("top", containerId, "-o", "pid,args");
  return table.split("\n").slice(1).filter((line) => /^\s*\d+\s+npm exec /.test(line)).length;
}

/** The guard's samples by name and labels, e.g. `metamcp_guard_sessions_ended_total{reason="idle"}`. */
export async function guardMetrics(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const figures: Record<string, number> = {};
  for (const { name, labels, value } of parseExposition(await res.text()).samples) {
    const labelText = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",");
    figures[labelText ? `${name}{${labelText}}` : name] = value;
  }
  return figures;
}

export interface MonitorRecord {
  event: string;
  reason?: string;
  [key: string]: unknown;
}

/** The monitor's audit log (JSON lines on stdout). */
export async function monitorAudit(monitorId: string): Promise<MonitorRecord[]> {
  const out = await docker("logs", monitorId);
  return out
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as MonitorRecord);
}

/** MetaMCP says a thread or process could not be made: the PID cap was hit. */
export const FORK_FAILURE = /EAGAIN|pthread_create|Resource temporarily unavailable|can't fork/i;
/** MetaMCP counts a crash of a server ("Server <uuid> crashed. Attempt n/max"). */
export const CRASH_COUNTED = /crashed\. Attempt \d+\/\d+/;

/** Lines of MetaMCP's log (stdout and stderr, every run of the container) that match `pattern`. */
export function logLines(appId: string, pattern: RegExp): Promise<string[]> {
  return new Promise((resolve) => {
    execFile("docker", ["logs", appId], { maxBuffer: 256 * 1024 * 1024 }, (_err, stdout, stderr) => {
      resolve(`${stdout}\n${stderr}`.split("\n").filter((line) => pattern.test(line)));
    });
  });
}
