/**
 * The kernel's own PID cap for a container: the `pids.max` of its cgroup. Docker's PidsLimit is
 * what the engine remembers; a systemd daemon-reload or a hand edit can change the cgroup under
 * it (moby/moby#41233), so this file is the truth. It can only be read on the Docker host itself.
 */
import { readFileSync } from "node:fs";
import { UNLIMITED } from "../pidsLimit/dockerApi";
import type { ContainerInspect } from "./inspect";

export type KernelReading =
  | { readable: true; /** UNLIMITED (-1) for "max". */ pidsMax: number; file: string }
  | { readable: false; reason: string };

export interface PidsCgroup {
  version: 1 | 2;
  /** The cgroup path as /proc/<pid>/cgroup shows it, e.g. /docker/<id>. */
  path: string;
}

/**
 * The process's cgroup for the pids controller, from /proc/<pid>/cgroup (pure). cgroup v1 lines
 * read `8:pids:/docker/<id>`; v2 has one line `0::/system.slice/docker-<id>.scope`. On a hybrid
 * host both kinds appear, and the v1 pids line wins because that is where the controller is.
 */
export function pidsCgroupOf(procCgroup: string): PidsCgroup | undefined {
  let unified: string | undefined;
  for (const line of procCgroup.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, hierarchy, controllers, path] = match;
    if (controllers.split(",").includes("pids")) return { version: 1, path };
    if (hierarchy === "0" && controllers === "") unified = path;
  }
  return unified === undefined ? undefined : { version: 2, path: unified };
}

/** Where that cgroup's pids.max lives under the cgroup mount (pure). */
export function pidsMaxFile(cgroup: PidsCgroup, cgroupRoot = "/sys/fs/cgroup"): string {
  const path = cgroup.path === "/" ? "" : cgroup.path;
  return cgroup.version === 1 ? `${cgroupRoot}/pids${path}/pids.max` : `${cgroupRoot}${path}/pids.max`;
}

/** "max" is no cap (UNLIMITED); otherwise a whole number (pure). */
export function parsePidsMax(text: string): number | undefined {
  const value = text.trim();
  if (value === "max") return UNLIMITED;
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

export interface KernelReadOptions {
  /** False when the engine is reached over ssh:// or tcp://: its processes are on another machine. */
  onDockerHost: boolean;
  /** For tests; the real /proc and /sys/fs/cgroup by default. */
  procRoot?: string;
  cgroupRoot?: string;
}

/** Reads the container's pids.max; says why not instead of throwing, because remote runs cannot. */
export function readKernelPidsMax(inspect: ContainerInspect, options: KernelReadOptions): KernelReading {
  const unreadable = (reason: string): KernelReading => ({ readable: false, reason });
  if (!options.onDockerHost) return unreadable("not readable: remote engine");
  const pid = inspect.State?.Pid;
  if (!inspect.State?.Running || !pid) return unreadable("not readable: the container is not running");
  let procCgroup: string;
  try {
    procCgroup = readFileSync(`${options.procRoot ?? "/proc"}/${pid}/cgroup`, "utf8");
  } catch (error) {
    return unreadable(`not readable: /proc/${pid}/cgroup: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const cgroup = pidsCgroupOf(procCgroup);
  // A PID from the engine's namespace may name another process here (verify in a container).
  if (!cgroup || !cgroup.path.includes(inspect.Id)) {
    return unreadable(`not readable: process ${pid} here is not in the container's cgroup (another PID namespace?)`);
  }
  const file = pidsMaxFile(cgroup, options.cgroupRoot);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return unreadable(`not readable: ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const pidsMax = parsePidsMax(text);
  return pidsMax === undefined ? unreadable(`not readable: ${file} holds ${JSON.stringify(text.trim())}`) : { readable: true, pidsMax, file };
}
