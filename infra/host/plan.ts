/**
 * Which slices a stack wants and with which limits: pure, from the stack's settings.
 *
 * Each container gets a child slice sized at its own limits plus `headroomPercent`, so the
 * container's Docker limit binds first (the app sees the limits it was deployed with) and the
 * slice is the backstop that `docker update` cannot lift and `daemon-reload` cannot reset
 * (moby/moby#41233). The parent caps the deployment as a whole at the sum of the children
 * plus the same headroom: it never binds before a child does, and leaves room for whatever
 * an operator runs in the parent directly (`systemd-run --slice=metamcp.slice`) to debug.
 */
import type { ContainerLimits } from "../config/schema/limits";
import type { ResolvedHostConfig } from "../config/schema/host";
import type { Role } from "../containerSettings";
import { cgroupParentFor, childSliceName, ROLES, sliceOwnershipProblems } from "./names";

const MIB = 1024 * 1024;

/** The parts of the stack config slices are derived from; a StackConfig is one. */
export interface SliceSettings {
  stack: string;
  /** Names every unit the stack writes; the parent slice must be its own (names.ts). */
  namePrefix: string;
  host: ResolvedHostConfig;
  app: { limits: ContainerLimits };
  database: { mode: "internal" | "external"; limits: ContainerLimits };
  monitor: { enabled: boolean; limits: ContainerLimits };
  guard: { enabled: boolean; limits: ContainerLimits };
}

/** One slice unit and the limits systemd must hold for it. */
export interface SliceSpec {
  /** Unit name, e.g. metamcp-app.slice. */
  unit: string;
  /** The container it holds, or "parent". */
  role: Role | "parent";
  description: string;
  /** Bytes, a whole number of MiB. */
  memoryMax: number;
  /** Always 0: swap would let a leak grow past MemoryMax on disk. */
  memorySwapMax: 0;
  tasksMax: number;
  /** Whole percent of one CPU (250 = two and a half CPUs). */
  cpuQuotaPercent: number;
}

export interface SlicePlan {
  stack: string;
  parent: SliceSpec;
  /** Only the roles the stack runs (no db with an external database, no monitor when disabled). */
  children: Partial<Record<Role, SliceSpec>>;
  /** Per role, what the container's cgroupParent must be. */
  cgroupParents: Partial<Record<Role, string>>;
}

/** The roles whose containers the stack declares, with their limits. */
export function containerLimits(settings: SliceSettings): Partial<Record<Role, ContainerLimits>> {
  const limits: Partial<Record<Role, ContainerLimits>> = { app: settings.app.limits };
  if (settings.database.mode === "internal") limits.db = settings.database.limits;
  if (settings.monitor.enabled) limits.monitor = settings.monitor.limits;
  if (settings.guard.enabled) limits.guard = settings.guard.limits;
  return limits;
}

/**
 * Settings slices cannot honour, one message per problem with its config key. A container
 * allowed swap (memorySwap above memory) would be refused it by MemorySwapMax=0 on cgroup v2,
 * so the stack would say one thing and the host do another. Meant for the config's superRefine.
 */
export function sliceProblems(settings: SliceSettings): string[] {
  if (!settings.host.slices.enabled) return [];
  const keys: Record<Role, string> = { app: "app", db: "database", monitor: "monitor", guard: "guard" };
  return Object.entries(containerLimits(settings))
    .filter(([, limits]) => limits.memorySwap > limits.memory)
    .map(([role]) => `metamcp-guard:${keys[role as Role]}.limits.memorySwap must equal memory when host.slices.enabled is true (the slices allow no swap)`);
}

export function planSlices(settings: SliceSettings): SlicePlan {
  // The config refused these already; checked again so that no caller can plan a slice the stack does not own.
  const ownership = sliceOwnershipProblems({ namePrefix: settings.namePrefix, parentAsWritten: settings.host.slices.parent });
  const problems = [...sliceProblems(settings), ...ownership.map((p) => `metamcp-guard:${p.key} ${p.message}`)];
  if (problems.length > 0) throw new Error(`Host slices cannot be planned:\n  - ${problems.join("\n  - ")}`);
  const { parent: parentUnit, headroomPercent, cgroupDriver } = settings.host.slices;
  const children: SlicePlan["children"] = {};
  const cgroupParents: SlicePlan["cgroupParents"] = {};
  for (const role of ROLES) {
    const limits = containerLimits(settings)[role];
    if (!limits) continue;
    const unit = childSliceName(parentUnit, role);
    children[role] = {
      unit,
      role,
      description: `metamcp-guard ${settings.stack}: ${role} container limits`,
      memoryMax: withHeadroomMiB(limits.memory, headroomPercent),
      memorySwapMax: 0,
      tasksMax: withHeadroom(limits.pids, headroomPercent),
      cpuQuotaPercent: withHeadroom(limits.cpus * 100, headroomPercent),
    };
    cgroupParents[role] = cgroupParentFor(unit, cgroupDriver);
  }
  const all = Object.values(children);
  const sum = (pick: (spec: SliceSpec) => number) => all.reduce((total, spec) => total + pick(spec), 0);
  const parent: SliceSpec = {
    unit: parentUnit,
    role: "parent",
    description: `metamcp-guard ${settings.stack}: whole deployment`,
    memoryMax: withHeadroomMiB(sum((s) => s.memoryMax), headroomPercent),
    memorySwapMax: 0,
    tasksMax: withHeadroom(sum((s) => s.tasksMax), headroomPercent),
    cpuQuotaPercent: withHeadroom(sum((s) => s.cpuQuotaPercent), headroomPercent),
  };
  return { stack: settings.stack, parent, children, cgroupParents };
}

/** The parent first: it must exist before its children (and go after them). */
export function slicesOf(plan: SlicePlan): SliceSpec[] {
  return [plan.parent, ...ROLES.flatMap((role) => (plan.children[role] ? [plan.children[role]!] : []))];
}

/**
 * `value` plus `percent`, rounded up to a whole number. Rounded to 1/1000 first so that
 * binary fractions (0.5 CPU × 110 = 55.00000000000001) do not round up a whole unit.
 */
export function withHeadroom(value: number, percent: number): number {
  return Math.ceil(Math.round((value * (100 + percent)) / 100 * 1000) / 1000);
}

/** Bytes plus `percent`, rounded up to whole MiB: page-aligned, so the kernel keeps the exact value. */
export function withHeadroomMiB(bytes: number, percent: number): number {
  return withHeadroom(bytes / MIB, percent) * MIB;
}
