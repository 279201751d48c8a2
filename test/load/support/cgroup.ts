/**
 * The kernel's own accounting for a container, read from its cgroup files on the engine's machine: what the
 * kernel enforced, independent of what Docker reports (on this machine `docker stats` shows 0B for memory,
 * and `OOMKilled` stays false when the killed process is not the container's main one).
 *
 * cgroup v1 (this machine) and v2 (the VM, and most real hosts) name their files differently; the readers
 * here return one shape for both:
 *
 * | what              | cgroup v1                                   | cgroup v2                         |
 * | ----------------- | ------------------------------------------- | --------------------------------- |
 * | memory cap / swap | memory.limit_in_bytes, memory.memsw.limit_… | memory.max, memory.swap.max       |
 * | peak / current    | memory.max_usage_in_bytes, memory.usage_…   | memory.peak, memory.current       |
 * | swap used         | memory.stat total_swap                      | memory.swap.current               |
 * | OOM kills         | memory.oom_control oom_kill                 | memory.events oom_kill            |
 * | PIDs              | pids.max, pids.current, pids.peak, pids.events (both)                           |
 * | CPU time          | cpuacct.usage (ns)                          | cpu.stat usage_usec               |
 * | throttling        | cpu.stat nr_periods, nr_throttled (both)                                        |
 *
 * The cgroup is found from /proc/<main pid>/cgroup (infra/verify/kernel.ts's cgroupLocation), not assumed,
 * so a daemon with another cgroup parent or the systemd driver's scopes are read the same way. Files are
 * read through the engine host's HostFiles: locally, or over SSH in one round trip per call.
 */
import { cgroupLocation, parseLimit, type CgroupLocation } from "../../../infra/verify/kernel";
import type { FileRead } from "../../../infra/verify/hostFiles";
import { docker } from "../../support/dockerCli";
import { engineHost, type EngineHost } from "../../support/engineHost";

/** A container's cgroup on its engine's machine. */
export interface ContainerCgroup {
  containerId: string;
  location: CgroupLocation;
  host: EngineHost;
}

/**
 * Finds the running container's cgroup. `dockerHost` names another engine on the same machine (the
 * private daemon of the restart tests); by default the one the docker CLI talks to.
 */
export async function containerCgroup(containerId: string, dockerHost?: string, host: EngineHost = engineHost()): Promise<ContainerCgroup> {
  const pid = await docker(...(dockerHost ? ["-H", dockerHost] : []), "inspect", "-f", "{{.State.Pid}}", containerId);
  if (!/^[1-9]\d*$/.test(pid)) throw new Error(`container ${containerId} is not running (State.Pid ${pid})`);
  const proc = (await host.files.read([`/proc/${pid}/cgroup`])).get(`/proc/${pid}/cgroup`)!;
  if (!proc.ok) throw new Error(`cannot read /proc/${pid}/cgroup on ${host.name}: ${proc.error}`);
  const location = cgroupLocation(proc.text);
  if (!location || !location.path.includes(containerId)) {
    throw new Error(`process ${pid} on ${host.name} is not in container ${containerId}'s cgroup: ${proc.text.trim()}`);
  }
  return { containerId, location, host };
}

/** The cgroup version, for messages and the few assertions that differ. */
export function cgroupVersion(cgroup: ContainerCgroup): 1 | 2 {
  return cgroup.location.version;
}

/** Memory as the kernel accounts it; bytes, Infinity for no limit. */
export interface MemoryAccounting {
  limit: number;
  /** Swap the container may use (v2 its own memory.swap.max; v1 memory+swap minus memory). */
  swapLimit: number;
  current: number;
  /** Highest usage since the cgroup was made (undefined where the kernel keeps none: v2 before Linux 5.19). */
  peak?: number;
  /** v1 only: highest memory+swap usage. */
  peakWithSwap?: number;
  /** Swap in use now. */
  swapCurrent: number;
  /** Processes the OOM killer killed in this cgroup. */
  oomKills: number;
}

export async function readMemory(cgroup: ContainerCgroup): Promise<MemoryAccounting> {
  const { location } = cgroup;
  if (location.version === 2) {
    const f = await readAll(cgroup, location.dir, ["memory.max", "memory.swap.max", "memory.current", "memory.peak", "memory.swap.current", "memory.events"]);
    return {
      limit: limit(f, "memory.max"),
      swapLimit: limit(f, "memory.swap.max"),
      current: limit(f, "memory.current"),
      peak: f.has("memory.peak") ? limit(f, "memory.peak") : undefined,
      swapCurrent: limit(f, "memory.swap.current"),
      oomKills: keyValues(f, "memory.events").oom_kill,
    };
  }
  const dir = need(location.memory, "memory");
  const f = await readAll(cgroup, dir, [
    "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.usage_in_bytes", "memory.max_usage_in_bytes",
    "memory.memsw.max_usage_in_bytes", "memory.oom_control", "memory.stat",
  ]);
  const memsw = limit(f, "memory.memsw.limit_in_bytes");
  const stat = keyValues(f, "memory.stat");
  return {
    limit: limit(f, "memory.limit_in_bytes"),
    swapLimit: memsw === Infinity ? Infinity : memsw - limit(f, "memory.limit_in_bytes"),
    current: limit(f, "memory.usage_in_bytes"),
    peak: limit(f, "memory.max_usage_in_bytes"),
    peakWithSwap: limit(f, "memory.memsw.max_usage_in_bytes"),
    swapCurrent: stat.total_swap ?? stat.swap ?? 0,
    oomKills: keyValues(f, "memory.oom_control").oom_kill,
  };
}

/** PIDs as the kernel accounts them (same files on v1 and v2); `max` is Infinity. */
export interface PidsAccounting {
  max: number;
  current: number;
  peak: number;
  /** Forks the kernel refused at the cap (pids.events `max`). */
  denied: number;
}

export async function readPids(cgroup: ContainerCgroup): Promise<PidsAccounting> {
  const dir = cgroup.location.version === 2 ? cgroup.location.dir : need(cgroup.location.pids, "pids");
  const f = await readAll(cgroup, dir, ["pids.max", "pids.current", "pids.peak", "pids.events"]);
  return { max: limit(f, "pids.max"), current: limit(f, "pids.current"), peak: limit(f, "pids.peak"), denied: keyValues(f, "pids.events").max ?? 0 };
}

/** CPU as the kernel accounts it. */
export interface CpuAccounting {
  /** The cap in CPUs (quota / period), Infinity for none. */
  quotaCpus: number;
  /** CPU time used since the cgroup was made, nanoseconds. */
  usageNs: number;
  periods: number;
  throttledPeriods: number;
}

export async function readCpu(cgroup: ContainerCgroup): Promise<CpuAccounting> {
  const { location } = cgroup;
  if (location.version === 2) {
    const f = await readAll(cgroup, location.dir, ["cpu.max", "cpu.stat"]);
    const [quota, period] = text(f, "cpu.max").split(/\s+/);
    const stat = keyValues(f, "cpu.stat");
    return {
      quotaCpus: quota === "max" ? Infinity : Number(quota) / Number(period),
      usageNs: stat.usage_usec * 1000,
      periods: stat.nr_periods,
      throttledPeriods: stat.nr_throttled,
    };
  }
  const f = await readAll(cgroup, need(location.cpu, "cpu"), ["cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.stat"]);
  // cpuacct is its own hierarchy on some hosts (this one), comounted as cpu,cpuacct on others.
  const acct = await readAll(cgroup, need(location.cpuacct, "cpuacct"), ["cpuacct.usage"]);
  const quota = limit(f, "cpu.cfs_quota_us");
  const stat = keyValues(f, "cpu.stat");
  return {
    quotaCpus: quota === Infinity ? Infinity : quota / limit(f, "cpu.cfs_period_us"),
    usageNs: limit(acct, "cpuacct.usage"),
    periods: stat.nr_periods,
    throttledPeriods: stat.nr_throttled,
  };
}

/** `key value` lines (memory.oom_control, memory.events, memory.stat, pids.events, cpu.stat) as a record (pure). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

/**
 * OOM kills the kernel logged for the container's memory cgroup, oldest first: one `oom-kill:` record per
 * kill, naming the cgroup that ran out (`oom_memcg=`) and the victim (`task=`, `pid=`). This is the count
 * that survives the container's restart, when the cgroup itself (and its counters) is gone. Reads the
 * kernel ring buffer of the engine's machine (root).
 */
export async function kernelOomKills(containerId: string, host: EngineHost = engineHost()): Promise<Array<{ task: string; pid: number }>> {
  const log = await host.sh("dmesg");
  if (log.code !== 0) throw new Error(`dmesg on ${host.name} failed (exit ${log.code}): ${log.stderr.trim()}`);
  return parseOomKills(log.stdout, containerId);
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

type Files = Map<string, string>;

/** The named files of one cgroup folder; a file the kernel does not have is left out, any other failure throws. */
async function readAll(cgroup: ContainerCgroup, dir: string, names: string[]): Promise<Files> {
  const read = await cgroup.host.files.read(names.map((name) => `${dir}/${name}`));
  const files: Files = new Map();
  for (const name of names) {
    const file: FileRead = read.get(`${dir}/${name}`)!;
    if (file.ok) files.set(name, file.text);
  }
  if (files.size === 0) throw new Error(`none of ${names.join(", ")} could be read in ${dir} on ${cgroup.host.name}`);
  return files;
}

function text(files: Files, name: string): string {
  const value = files.get(name);
  if (value === undefined) throw new Error(`cgroup file ${name} could not be read`);
  return value.trim();
}

function limit(files: Files, name: string): number {
  const value = parseLimit(text(files, name));
  if (value === undefined) throw new Error(`cgroup file ${name} holds ${JSON.stringify(text(files, name))}, not a number`);
  return value;
}

function keyValues(files: Files, name: string): Record<string, number> {
  return parseKeyValues(text(files, name));
}

function need(dir: string | undefined, controller: string): string {
  if (!dir) throw new Error(`the container has no cgroup v1 "${controller}" hierarchy`);
  return dir;
}
