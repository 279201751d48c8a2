/**
 * The kernel's own accounting for a container, read from its cgroup v1 files on the host: what the kernel
 * enforced, independent of what Docker reports (on this machine `docker stats` shows 0B for memory, and
 * `OOMKilled` stays false when the killed process is not the container's main one).
 *
 * The directory is found from /proc/<main pid>/cgroup, not assumed to be /sys/fs/cgroup/<ctl>/docker/<id>,
 * so a daemon with another cgroup parent (the private daemon of the restart test) is read the same way.
 * cgroup v2 is refused with a message rather than misread: these files do not exist there.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { docker } from "../../support/docker";

const CGROUP_ROOT = "/sys/fs/cgroup";

export type Controller = "memory" | "pids" | "cpuacct" | "cpu";

/** Paths per controller for a process, parsed from /proc/<pid>/cgroup text (pure). v1 lines: `4:cpu,cpuacct:/docker/<id>`. */
export function parseProcCgroup(text: string): Map<string, { mount: string; relative: string }> {
  const found = new Map<string, { mount: string; relative: string }>();
  for (const line of text.split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!match || match[1] === "") continue; // "0::/…" is the v2 unified line
    for (const controller of match[1].split(",")) found.set(controller, { mount: match[1], relative: match[2] });
  }
  return found;
}

/** The container's cgroup directory for `controller` on the host. The container must be running. */
export async function cgroupDir(containerId: string, controller: Controller, dockerHost?: string): Promise<string> {
  const pid = await docker(...(dockerHost ? ["-H", dockerHost] : []), "inspect", "-f", "{{.State.Pid}}", containerId);
  if (!/^[1-9]\d*$/.test(pid)) throw new Error(`container ${containerId} is not running (State.Pid ${pid})`);
  const entries = parseProcCgroup(fs.readFileSync(`/proc/${pid}/cgroup`, "utf8"));
  const entry = entries.get(controller);
  if (!entry) {
    throw new Error(
      `no cgroup v1 "${controller}" hierarchy for pid ${pid}; these load tests read cgroup v1 files ` +
        "(memory.oom_control, cpuacct.usage, pids.peak) and this host looks like cgroup v2",
    );
  }
  const dir = path.join(CGROUP_ROOT, entry.mount, entry.relative);
  if (!fs.existsSync(dir)) throw new Error(`cgroup directory ${dir} for container ${containerId} does not exist`);
  return dir;
}

export function readCgroupFile(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file), "utf8").trim();
}

/** A cgroup file holding one number (`max` reads as Infinity). */
export function readCgroupNumber(dir: string, file: string): number {
  const text = readCgroupFile(dir, file);
  return text === "max" ? Infinity : Number(text);
}

/** `key value` lines (memory.oom_control, memory.stat, pids.events) as a record (pure). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

export function readKeyValues(dir: string, file: string): Record<string, number> {
  return parseKeyValues(readCgroupFile(dir, file));
}

/**
 * OOM kills the kernel logged for the container's memory cgroup, oldest first: one `oom-kill:` record per
 * kill, naming the cgroup that ran out (`oom_memcg=`) and the victim (`task=`, `pid=`). This is the count
 * that survives the container's restart, when the cgroup itself (and its memory.oom_control) is gone.
 * Needs root (reads the kernel ring buffer with dmesg).
 */
export function kernelOomKills(containerId: string): Array<{ task: string; pid: number }> {
  const log = execFileSync("dmesg", [], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return parseOomKills(log, containerId);
}

/** The `oom-kill:` records of a kernel log whose oom_memcg names the container (pure). */
export function parseOomKills(log: string, containerId: string): Array<{ task: string; pid: number }> {
  const kills: Array<{ task: string; pid: number }> = [];
  for (const line of log.split("\n")) {
    const record = /oom-kill:(\S+)/.exec(line)?.[1];
    if (!record) continue;
    const fields = Object.fromEntries(record.split(",").map((kv) => kv.split("=") as [string, string]));
    if (!fields.oom_memcg?.includes(containerId)) continue;
    kills.push({ task: fields.task, pid: Number(fields.pid) });
  }
  return kills;
}
