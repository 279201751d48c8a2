/**
 * The kernel's own limits for a container: the files of its cgroup. Docker's HostConfig is what the
 * engine remembers; a `systemctl daemon-reload`, an update of another limit or a hand edit can change the
 * cgroup under it (moby/moby#41233, #51446: swap turned back on), so these files are the truth.
 *
 * cgroup v2 (one hierarchy; Docker's systemd driver puts a container at
 * /system.slice/docker-<id>.scope, or <slice>/docker-<id>.scope with a cgroupParent; the cgroupfs
 * driver at /docker/<id>): memory.max, memory.swap.max, pids.max, cpu.max. Swap is bound by the
 * smallest memory.swap.max on the way up to the root, since v2 limits are hierarchical: a slice with
 * MemorySwapMax=0 holds even when the container's own file says max.
 * cgroup v1 (one hierarchy per controller): memory.limit_in_bytes, memory.memsw.limit_in_bytes (memory
 * plus swap), pids.max, cpu.cfs_quota_us / cpu.cfs_period_us. On a hybrid host (this project's CI
 * machine) the v1 hierarchies hold the controllers, so v1 wins.
 *
 * Files are read through HostFiles, so the same code reads them here or over SSH.
 */
import { UNLIMITED } from "../pidsLimit/dockerApi";
import type { FileRead, HostFiles } from "./hostFiles";
import type { ContainerInspect } from "./inspect";

export const CGROUP_ROOT = "/sys/fs/cgroup";

/** Where a container's cgroup files are. v1: a folder per controller; v2: one folder and its ancestors. */
export type CgroupLocation =
  | { version: 1; path: string; memory?: string; pids?: string; cpu?: string; /** Often comounted with cpu (cpu,cpuacct). */ cpuacct?: string }
  | { version: 2; path: string; dir: string; /** Parent folders up to (not including) the root, nearest first. */ ancestors: string[] };

/**
 * The cgroup of a process from /proc/<pid>/cgroup (pure). v1 lines read `4:memory:/docker/<id>` (the
 * folder is <root>/<controllers as listed>/<path>, e.g. cpu,cpuacct); v2 has one line `0::/path`.
 */
export function cgroupLocation(procCgroup: string, cgroupRoot = CGROUP_ROOT): CgroupLocation | undefined {
  const v1: Extract<CgroupLocation, { version: 1 }> = { version: 1, path: "" };
  let unified: string | undefined;
  for (const line of procCgroup.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, hierarchy, controllers, path] = match;
    if (hierarchy === "0" && controllers === "") {
      unified = path;
      continue;
    }
    const list = controllers.split(",");
    for (const controller of ["memory", "pids", "cpu", "cpuacct"] as const) {
      if (list.includes(controller)) {
        v1[controller] = join(`${cgroupRoot}/${controllers}`, path);
        v1.path = path;
      }
    }
  }
  if (v1.memory || v1.pids || v1.cpu || v1.cpuacct) return v1;
  if (unified === undefined) return undefined;
  const parts = unified.split("/").filter(Boolean);
  const ancestors = parts.slice(0, -1).map((_, i, all) => join(cgroupRoot, `/${all.slice(0, all.length - i).join("/")}`));
  return { version: 2, path: unified, dir: join(cgroupRoot, unified), ancestors };
}

function join(dir: string, path: string): string {
  return path === "/" || path === "" ? dir : `${dir}${path.startsWith("/") ? "" : "/"}${path}`;
}

/** The files holding the limits at that location (pure). */
export function limitFiles(location: CgroupLocation): string[] {
  if (location.version === 2) {
    return [
      ...["memory.max", "memory.swap.max", "pids.max", "cpu.max"].map((file) => `${location.dir}/${file}`),
      ...location.ancestors.map((dir) => `${dir}/memory.swap.max`),
    ];
  }
  return [
    ...(location.memory ? [`${location.memory}/memory.limit_in_bytes`, `${location.memory}/memory.memsw.limit_in_bytes`] : []),
    ...(location.pids ? [`${location.pids}/pids.max`] : []),
    ...(location.cpu ? [`${location.cpu}/cpu.cfs_quota_us`, `${location.cpu}/cpu.cfs_period_us`] : []),
  ];
}

/** A value read from the kernel, or why it could not be. */
export type Reading<T> = { value: T } | { unreadable: string };

/** What binds a container, in bytes and CPUs; Infinity is "no limit" (`max`). */
export interface KernelLimits {
  version: 1 | 2;
  memory: Reading<number>;
  /** Swap the container may use: v2 the smallest memory.swap.max up the tree, v1 memsw minus memory. */
  swap: Reading<{ bytes: number; /** The cgroup whose limit binds, when it is not the container's own. */ boundBy?: string }>;
  /** UNLIMITED (-1) for max, as Docker's PidsLimit says it. */
  pids: Reading<number>;
  cpus: Reading<number>;
}

/**
 * v1 writes "no limit" as the largest page-aligned counter (9223372036854771712 on x86_64), v2 as `max`;
 * both become Infinity (pure).
 */
export function parseLimit(text: string): number | undefined {
  const value = text.trim();
  if (value === "max" || value === "-1") return Infinity;
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 2 ** 62 ? Infinity : n;
}

/** Parses `max` as UNLIMITED, a whole number as itself (pure). */
export function parsePidsMax(text: string): number | undefined {
  const n = parseLimit(text);
  return n === Infinity ? UNLIMITED : n;
}

/** v2 cpu.max "quota period" ("max 100000" for none) as CPUs (pure). */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  const p = Number(period);
  if (!(p > 0)) return undefined;
  if (quota === "max") return Infinity;
  return /^\d+$/.test(quota) ? Number(quota) / p : undefined;
}

/** The limits from the files limitFiles() named (pure). A file that could not be read makes its value unreadable. */
export function parseKernelLimits(location: CgroupLocation, files: ReadonlyMap<string, FileRead>): KernelLimits {
  const get = <T>(path: string | undefined, parse: (text: string) => T | undefined): Reading<T> => {
    if (!path) return { unreadable: "not readable: no such controller for the container" };
    const file = files.get(path);
    if (!file) return { unreadable: `not readable: ${path} was not read` };
    if (!file.ok) return { unreadable: `not readable: ${path}: ${file.error}` };
    const value = parse(file.text);
    return value === undefined ? { unreadable: `not readable: ${path} holds ${JSON.stringify(file.text.trim())}` } : { value };
  };
  if (location.version === 2) {
    const own = get(`${location.dir}/memory.swap.max`, parseLimit);
    let swap: KernelLimits["swap"] = "value" in own ? { value: { bytes: own.value } } : own;
    if ("value" in swap) {
      for (const dir of location.ancestors) {
        const above = files.get(`${dir}/memory.swap.max`);
        const bytes = above?.ok ? parseLimit(above.text) : undefined;
        // An ancestor without the file (the root's children may lack it) or unreadable binds nothing we know of.
        if (bytes !== undefined && bytes < swap.value.bytes) swap = { value: { bytes, boundBy: dir } };
      }
    }
    return {
      version: 2,
      memory: get(`${location.dir}/memory.max`, parseLimit),
      swap,
      pids: get(`${location.dir}/pids.max`, parsePidsMax),
      cpus: get(`${location.dir}/cpu.max`, parseCpuMax),
    };
  }
  const memory = get(location.memory && `${location.memory}/memory.limit_in_bytes`, parseLimit);
  const memsw = get(location.memory && `${location.memory}/memory.memsw.limit_in_bytes`, parseLimit);
  const quota = get(location.cpu && `${location.cpu}/cpu.cfs_quota_us`, parseLimit);
  const period = get(location.cpu && `${location.cpu}/cpu.cfs_period_us`, parseLimit);
  return {
    version: 1,
    memory,
    swap: !("value" in memsw) ? memsw : !("value" in memory) ? memory : { value: { bytes: memsw.value === Infinity ? Infinity : memsw.value - memory.value } },
    pids: get(location.pids && `${location.pids}/pids.max`, parsePidsMax),
    cpus: !("value" in quota) ? quota : !("value" in period) ? period : { value: quota.value === Infinity ? Infinity : quota.value / period.value },
  };
}

export type KernelReading = { readable: true; location: CgroupLocation; limits: KernelLimits } | { readable: false; reason: string };

export interface KernelReadOptions {
  /** For tests; /proc and /sys/fs/cgroup of the host by default. */
  procRoot?: string;
  cgroupRoot?: string;
}

/**
 * Reads the container's limits from its cgroup on the host `files` reads from (the engine's host). Says why
 * not instead of throwing for what is expected (a stopped container, a PID that is not the container's);
 * rejects only when the host cannot be reached at all.
 */
export async function readContainerKernel(inspect: ContainerInspect, files: HostFiles, options: KernelReadOptions = {}): Promise<KernelReading> {
  const unreadable = (reason: string): KernelReading => ({ readable: false, reason });
  const pid = inspect.State?.Pid;
  if (!inspect.State?.Running || !pid) return unreadable("not readable: the container is not running");
  const procFile = `${options.procRoot ?? "/proc"}/${pid}/cgroup`;
  const proc = (await files.read([procFile])).get(procFile)!;
  if (!proc.ok) return unreadable(`not readable: ${procFile} on ${files.where}: ${proc.error}`);
  const location = cgroupLocation(proc.text, options.cgroupRoot);
  // A PID from the engine's namespace may name another process where we read (verify in a container,
  // or an engine in a VM behind a local socket).
  if (!location || !location.path.includes(inspect.Id)) {
    return unreadable(`not readable: process ${pid} on ${files.where} is not in the container's cgroup (another PID namespace?)`);
  }
  return { readable: true, location, limits: parseKernelLimits(location, await files.read(limitFiles(location))) };
}
