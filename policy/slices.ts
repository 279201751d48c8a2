/**
 * systemd slices on the Docker host (infra/host): the backstop `docker update` cannot lift.
 * When a stack uses them, every container must sit in one, and every slice must be at least as
 * large as what it holds, or the slice, not the container's own limit, kills MetaMCP first, with
 * none of Docker's bookkeeping (no OOMKilled flag, no restart count).
 *
 * Slices are "enabled" when the stack declares any: a container with a cgroupParent, or a
 * remote Command that writes a slice unit. A stack with neither is not judged by these rules,
 * except in production, which must use them (prod-slices-enabled).
 */
import type { PolicyResource, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { productionStackOrNotApplicable, settingsOf, SLICES_DEFAULTS, SLICES_SCHEMA } from "./config";
import { attachedPidsLimits } from "./limits";
import { CONTAINER, type ContainerProps, describeContainer, known, parseCpus, REMOTE_COMMAND, UNKNOWN } from "./resources";

const MIB = 1024 * 1024;

/** A slice unit's caps as the Command writes them: bytes, tasks, percent of one CPU (undefined = no cap). */
export interface SliceCaps {
  unit: string;
  memoryMaxBytes?: number;
  tasksMax?: number;
  cpuQuotaPercent?: number;
}

function cap(script: string, pattern: RegExp): number | undefined {
  const value = pattern.exec(script)?.[1];
  return value === undefined || value === "infinity" ? undefined : Number(value);
}

/**
 * The slice a Command's create script writes, read from the unit text in it (MemoryMax=,
 * TasksMax=, CPUQuota=N%), or undefined for a Command that writes no slice. Matching on the
 * unit text rather than on the plan that produced it checks what systemd will actually be given,
 * through whatever quoting the script wraps it in.
 */
export function sliceOfScript(script: unknown): SliceCaps | undefined {
  if (typeof script !== "string" || !script.includes("[Slice]")) return undefined;
  const unit = /\bunit=[\\']*([A-Za-z0-9_.:-]+\.slice)\b/.exec(script)?.[1];
  if (!unit) return undefined;
  return {
    unit,
    memoryMaxBytes: cap(script, /\bMemoryMax=(\d+|infinity)\b/),
    tasksMax: cap(script, /\bTasksMax=(\d+|infinity)\b/),
    cpuQuotaPercent: cap(script, /\bCPUQuota=(\d+(?:\.\d+)?)%/),
  };
}

/** The slice unit a cgroupParent names: `x.slice` (systemd driver) or the last part of `/a.slice/a-x.slice` (cgroupfs). */
export function sliceOfCgroupParent(cgroupParent: string): string | undefined {
  const last = cgroupParent.split("/").filter(Boolean).at(-1);
  return last?.endsWith(".slice") ? last : undefined;
}

/** systemd nests `a-b-c.slice` in `a-b.slice` in `a.slice`: the slice and every ancestor, innermost first. */
export function sliceAndAncestors(unit: string): string[] {
  const parts = unit.slice(0, -".slice".length).split("-");
  return parts.map((_, i) => `${parts.slice(0, parts.length - i).join("-")}.slice`);
}

interface Placed {
  container: PolicyResource;
  name: string;
  /** The slice it sits in, or undefined when it has no (slice) cgroupParent. */
  slice?: string;
  cgroupParent?: string;
}

/** Slice declarations and container placements, or undefined when the stack uses no slices. */
export function sliceLayout(resources: PolicyResource[]): { slices: Map<string, { caps: SliceCaps; command: PolicyResource }>; placed: Placed[] } | undefined {
  const slices = new Map<string, { caps: SliceCaps; command: PolicyResource }>();
  for (const command of resources.filter((r) => r.type === REMOTE_COMMAND)) {
    const script = known(() => command.props.create);
    const caps = script === UNKNOWN ? undefined : sliceOfScript(script);
    if (caps) slices.set(caps.unit, { caps, command });
  }
  const placed: Placed[] = resources
    .filter((r) => r.type === CONTAINER)
    .map((container) => {
      const props = container.props as ContainerProps;
      const cgroupParent = known(() => props.cgroupParent);
      const text = typeof cgroupParent === "string" && cgroupParent !== "" ? cgroupParent : undefined;
      return { container, name: describeContainer(props, container.name), cgroupParent: text, slice: text && sliceOfCgroupParent(text) };
    });
  const enabled = slices.size > 0 || placed.some((p) => p.cgroupParent !== undefined);
  return enabled ? { slices, placed } : undefined;
}

function layoutOrNotApplicable(args: StackValidationArgs) {
  return sliceLayout(args.resources) ?? args.notApplicable("the stack declares no systemd slices (host.slices.enabled is false)");
}

export const containersInSlices: StackValidationPolicy = {
  name: "containers-in-slices",
  description: "When the stack uses systemd slices, every container's cgroupParent names a slice the stack declares.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const { slices, placed } = layoutOrNotApplicable(args);
    for (const { container, name, slice, cgroupParent } of placed) {
      if (!cgroupParent) {
        report(`${name} has no cgroupParent: it runs outside the stack's slices, so their caps do not bind it.`, container.urn);
      } else if (!slice) {
        report(`${name} has cgroupParent ${cgroupParent}, which is not a systemd slice.`, container.urn);
      } else if (!slices.has(slice)) {
        report(`${name} sits in ${slice}, which this stack does not declare: nothing guarantees that slice's caps.`, container.urn);
      }
    }
  },
};

/** One cap of a slice against the total of the containers beneath it. */
interface CapCheck {
  what: string;
  slice?: number;
  containers: number;
}

export const sliceCapsCoverContainers: StackValidationPolicy = {
  name: "slice-caps-cover-containers",
  description:
    "When the stack uses systemd slices, each slice's MemoryMax, TasksMax and CPUQuota are at least the total of the containers' limits beneath it.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const { slices, placed } = layoutOrNotApplicable(args);
    // Every declared slice, with the containers that sit in it or in a slice nested in it.
    for (const [unit, { caps, command }] of slices) {
      const beneath = placed.filter((p) => p.slice && sliceAndAncestors(p.slice).includes(unit));
      if (beneath.length === 0) continue;
      let memoryMiB = 0;
      let cpus = 0;
      let pids = 0;
      for (const { container } of beneath) {
        const props = container.props as ContainerProps;
        const memory = known(() => props.memory);
        if (typeof memory === "number") memoryMiB += memory;
        cpus += parseCpus(known(() => props.cpus)) ?? 0;
        for (const limit of attachedPidsLimits(container, args.resources).map((p) => known(() => p.props.limit))) {
          if (typeof limit === "number") pids += limit;
        }
      }
      const checks: CapCheck[] = [
        { what: `MemoryMax ${caps.memoryMaxBytes} bytes < ${memoryMiB} MiB`, slice: caps.memoryMaxBytes, containers: memoryMiB * MIB },
        { what: `TasksMax ${caps.tasksMax} < ${pids} PIDs`, slice: caps.tasksMax, containers: pids },
        // Compared in whole percent, as systemd takes it; 0.5 CPU × 100 is 50.000000000000001 in binary.
        { what: `CPUQuota ${caps.cpuQuotaPercent}% < ${cpus} CPUs`, slice: caps.cpuQuotaPercent, containers: Math.round(cpus * 100 * 1000) / 1000 },
      ];
      for (const check of checks.filter((c) => c.slice !== undefined && c.slice < c.containers)) {
        report(`${unit} is smaller than ${beneath.map((b) => b.name).join(" + ")}: ${check.what}; the slice would kill them before their own limits do.`, command.urn);
      }
    }
  },
};

export const prodSlicesEnabled: StackValidationPolicy = {
  name: "prod-slices-enabled",
  description:
    "In production, the containers run in systemd slices the stack declares (host.slices.enabled): limits `docker update` cannot lift, as the stack promises for prod.",
  enforcementLevel: "mandatory",
  configSchema: SLICES_SCHEMA,
  validateStack: (args, report) => {
    const settings = settingsOf(args, SLICES_DEFAULTS);
    const containers = args.resources.filter((r) => r.type === CONTAINER);
    if (containers.length === 0) args.notApplicable("the stack declares no containers");
    const stack = productionStackOrNotApplicable(args, settings);
    // With slices on, containers-in-slices and slice-caps-cover-containers judge each container.
    if (sliceLayout(args.resources) === undefined) {
      report(
        `${stack} runs its containers outside systemd slices: a single \`docker update\` lifts every limit. Set host.slices.enabled: true (with host.ssh and the sshPrivateKey secret); a stack that is not production sets metamcp-guard:production to false and is not named in productionStacks.`,
      );
    }
  },
};

export const slicePolicies = [containersInSlices, sliceCapsCoverContainers, prodSlicesEnabled];
