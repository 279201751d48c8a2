/**
 * What real MetaMCP costs, and the limits a stated capacity needs. Pure.
 *
 * The figures were measured on MetaMCP 2.4.22 (built from its source, under Docker 20.10, real MCP SDK
 * clients, stdio servers started with `npx -y @modelcontextprotocol/server-everything` and
 * `server-filesystem`), reading the container's own cgroup (pids.current, memory usage) and `docker top`:
 *
 * - The idle tree (docker-init, the entrypoint shell, the backend `node dist/index.js`, the frontend
 *   `pnpm start` → pnpm → `next-server`) is 47 tasks. Every Node process has 11 threads, and the PID cap
 *   counts threads, not processes. Its memory charge was ~370 MiB steady and peaked near 550 MiB while
 *   the first servers were being downloaded at start.
 * - Each MCP server runs as a group of three processes (`npm exec <pkg>` → `sh -c mcp-server-x` →
 *   `node …/mcp-server-x`): 23 tasks, ~190 MiB resident (the cgroup charges ~110 MiB of it, the rest is
 *   shared pages; a first start that downloads the package costs more).
 * - MetaMCP keeps one idle set of groups ready per namespace (one group per server of that namespace),
 *   and every open MCP session holds a set of its own. Measured: 1 namespace of 2 servers, 5 sessions →
 *   (5 + 1) × 2 = 12 groups → 47 + 12 × 23 = 323 tasks, exactly what pids.current read.
 *
 * So the seed's 100-PID cap holds the idle tree and the idle set of two servers (93 tasks) and nothing
 * more: the first client's session needs 46 more tasks, `pthread_create` fails, the servers abort and
 * MetaMCP marks them ERROR for every client.
 */
import { formatSize } from "./config/units";

/** Tasks and memory of the parts of a running MetaMCP. */
export const METAMCP_COST = {
  /** Everything but the MCP servers. Memory rounded up from the start-up peak. */
  idleTree: { tasks: 47, memoryMiB: 576 },
  /** One MCP server's process group. Memory is its resident size, not the smaller cgroup charge. */
  group: { tasks: 23, memoryMiB: 192 },
} as const;

/**
 * Room above the planned load for what comes and goes: the health check (`node -e fetch(…)`, one Node
 * process of 11 threads every interval) and a group being spawned while another closes. A quarter of
 * the load, and never less than one group plus one health check.
 */
export const PIDS_HEADROOM = {
  share: 0.25,
  minTasks: METAMCP_COST.group.tasks + 11,
} as const;

/** Derived memory caps are rounded up to this, so a small change of capacity does not change them. */
const MEMORY_STEP_MIB = 256;

/** The monitor's emergency memory threshold, as a share of MetaMCP's memory cap. */
export const EMERGENCY_MEMORY_SHARE = 0.9;

const MIB = 1024 * 1024;

/** Capacity in the operator's terms: how many MCP server groups MetaMCP may run at once. */
export type CapacityInput =
  | { groups: number }
  | {
      /** MCP sessions open at once. */
      sessions: number;
      /** Stdio servers in a namespace: each session holds one group per server. */
      serversPerNamespace: number;
      /** Namespaces in use: MetaMCP keeps one idle set of groups ready for each. */
      namespaces: number;
    };

/** The load a capacity puts on MetaMCP's container. */
export interface PlannedLoad {
  /** MCP server groups alive at full capacity. */
  groups: number;
  /** Tasks with no client connected (the idle tree and the idle sets of groups). */
  idleTasks: number;
  /** Tasks at full capacity. */
  tasks: number;
  /** Memory at full capacity, bytes. */
  memoryBytes: number;
}

export function plannedLoad(capacity: CapacityInput): PlannedLoad {
  const { idleTree, group } = METAMCP_COST;
  const idleGroups = "groups" in capacity ? 0 : capacity.namespaces * capacity.serversPerNamespace;
  const groups = "groups" in capacity ? capacity.groups : idleGroups + capacity.sessions * capacity.serversPerNamespace;
  return {
    groups,
    idleTasks: idleTree.tasks + idleGroups * group.tasks,
    tasks: idleTree.tasks + groups * group.tasks,
    memoryBytes: (idleTree.memoryMiB + groups * group.memoryMiB) * MIB,
  };
}

/** The PID cap that holds the load with its headroom. */
export function derivedPidsLimit(load: PlannedLoad): number {
  return load.tasks + Math.max(Math.ceil(load.tasks * PIDS_HEADROOM.share), PIDS_HEADROOM.minTasks);
}

/** The memory cap that holds the load, rounded up to a whole step. */
export function derivedMemory(load: PlannedLoad): number {
  const step = MEMORY_STEP_MIB * MIB;
  return Math.ceil(load.memoryBytes / step) * step;
}

/**
 * Where the monitor's emergency sweep starts: halfway between the planned load and the PID cap. Above
 * the load, so a MetaMCP at full capacity is never swept (a live group killed is a crash to MetaMCP);
 * below the cap, so the sweep runs while forks still succeed.
 */
export function emergencyTasksFor(load: PlannedLoad, pidsLimit: number): number {
  return load.tasks + Math.floor((pidsLimit - load.tasks) / 2);
}

/**
 * The monitor's emergency memory threshold for a memory cap, bytes: EMERGENCY_MEMORY_SHARE of it.
 *
 * The monitor compares it with the anonymous memory of MetaMCP's processes (RssAnon summed), which
 * is what the memory cgroup must keep charged with no swap, and so what decides an OOM kill; not
 * with their RSS sum. RSS counts file pages once per process that maps them: every Node process
 * maps the node binary (~45 MiB), so on real MetaMCP 2.4.22 the RSS sum of the idle tree and 2
 * server groups was ~760 MiB while the cgroup charged 388 MiB of anonymous memory (each group:
 * ~192 MiB RSS, ~110 MiB anonymous). The cap is derived from the larger RSS figures
 * (METAMCP_COST), so at the planned load the anonymous sum sits far below 90% of it (prod: 18
 * groups, ~2.1 GiB anonymous against a threshold of 3.6 GiB, where the RSS sum, 3.7–3.9 GiB, would
 * already be over), while a process that keeps growing its heap reaches it before the cap.
 */
export function emergencyMemoryFor(memoryBytes: number): number {
  return Math.floor(memoryBytes * EMERGENCY_MEMORY_SHARE);
}

/** What the limits and thresholds are checked against: the explicit values, where the stack file gives them. */
export interface CapacityCheck {
  load: PlannedLoad;
  pidsLimit?: number;
  memoryBytes?: number;
  /** The monitor's emergency threshold in tasks, when set explicitly. */
  emergencyTasks?: number;
}

/** A problem with one config key: its path below the project namespace and the message. */
export interface KeyProblem {
  key: string;
  message: string;
}

/** Explicit limits and thresholds that cannot hold the stated capacity, one per key (empty when all fit). */
export function capacityProblems({ load, pidsLimit, memoryBytes, emergencyTasks }: CapacityCheck): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const groups = `${load.groups} MCP server group${load.groups === 1 ? "" : "s"}`;
  if (pidsLimit !== undefined && pidsLimit < load.tasks) {
    problems.push({
      key: "app.limits.pids",
      message:
        `${pidsLimit} cannot hold MetaMCP at app.capacity: its idle tree (${METAMCP_COST.idleTree.tasks} tasks) plus ` +
        `${groups} × ${METAMCP_COST.group.tasks} tasks need ${load.tasks}; raise it, or leave it unset to get ${derivedPidsLimit(load)}`,
    });
  }
  if (memoryBytes !== undefined && memoryBytes < load.memoryBytes) {
    problems.push({
      key: "app.limits.memory",
      message:
        `${formatSize(memoryBytes)} cannot hold MetaMCP at app.capacity: its idle tree (${METAMCP_COST.idleTree.memoryMiB} MiB) plus ` +
        `${groups} × ${METAMCP_COST.group.memoryMiB} MiB need ${formatSize(load.memoryBytes)}; raise it, or lower app.capacity`,
    });
  }
  const cap = pidsLimit ?? derivedPidsLimit(load);
  if (emergencyTasks !== undefined && emergencyTasks <= load.idleTasks) {
    problems.push({
      key: "monitor.emergencyTasks",
      message:
        `${emergencyTasks} is at or below MetaMCP's idle load (${load.idleTasks} tasks with no client): the emergency sweep ` +
        `would kill servers MetaMCP holds; allowed: ${load.idleTasks + 1} to ${cap - 1}, or off`,
    });
  } else if (emergencyTasks !== undefined && emergencyTasks >= cap) {
    problems.push({
      key: "monitor.emergencyTasks",
      message: `${emergencyTasks} is at or above app.limits.pids (${cap}): forks fail before the sweep starts; allowed: ${load.idleTasks + 1} to ${cap - 1}, or off`,
    });
  }
  return problems;
}

