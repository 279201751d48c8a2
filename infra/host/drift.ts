/**
 * The host-drift check, pure: what the plan wants against what `systemctl show` printed.
 * `remote.Command` has no read, so `pulumi refresh` cannot see a unit edited on the host;
 * this can.
 */
import { slicesOf, type SlicePlan, type SliceSpec } from "./plan";
import { parseTimespan } from "./timespan";
import { expectedKernel, expectedShow, UNIT_DIR, type EnforcedProperty, ENFORCED_PROPERTIES } from "./unitFile";

export interface ShownUnit {
  unit: string;
  properties: Record<string, string>;
}

export interface ShowOutput {
  units: ShownUnit[];
  /** `cgroup2fs` on cgroup v2; `tmpfs` on v1 (legacy or hybrid). */
  cgroupFs: string;
}

export interface Drift {
  unit: string;
  property: string;
  wanted: string;
  found: string;
}

export interface DriftReport {
  drifts: Drift[];
  cgroupVersion: 1 | 2 | undefined;
  /** Facts worth saying that are not drift (e.g. swap on cgroup v1). */
  notes: string[];
}

/** Parses the output of showScript(). */
export function parseShowOutput(text: string): ShowOutput {
  const units: ShownUnit[] = [];
  let cgroupFs = "unknown";
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("@unit=")) {
      units.push({ unit: trimmed.slice("@unit=".length), properties: {} });
    } else if (trimmed.startsWith("@cgroupfs=")) {
      cgroupFs = trimmed.slice("@cgroupfs=".length);
    } else if (trimmed.includes("=") && units.length > 0) {
      const at = trimmed.indexOf("=");
      units[units.length - 1].properties[trimmed.slice(0, at)] = trimmed.slice(at + 1);
    }
  }
  return { units, cgroupFs };
}

/** Every difference between the plan and the host, one entry per unit and property. */
export function compareWithHost(plan: SlicePlan, shown: ShowOutput): DriftReport {
  const drifts: Drift[] = [];
  for (const spec of slicesOf(plan)) {
    const found = shown.units.find((u) => u.unit === spec.unit);
    if (!found) {
      drifts.push({ unit: spec.unit, property: "(unit)", wanted: "present", found: "not reported by the host" });
      continue;
    }
    drifts.push(...compareUnit(spec, found.properties, cgroupVersionOf(shown)));
  }
  const cgroupVersion = cgroupVersionOf(shown);
  const notes: string[] = [];
  if (cgroupVersion === 1) {
    notes.push("cgroup v1: MemoryMax, TasksMax and CPUQuota are enforced; MemorySwapMax is not (each container's memorySwap caps its swap)");
  }
  // Not drift (a stopped container leaves its slice empty too), but the one sign on the host that
  // a running container was placed elsewhere, e.g. a cgroupDriver setting that does not match Docker's.
  for (const spec of Object.values(plan.children)) {
    const tasks = shown.units.find((u) => u.unit === spec!.unit)?.properties.TasksCurrent;
    if (tasks !== undefined && !(Number(tasks) > 0)) {
      notes.push(`${spec!.unit} holds no processes: if its container is running, it is not in the slice (compare host.slices.cgroupDriver with \`docker info\`)`);
    }
  }
  return { drifts, cgroupVersion, notes };
}

function cgroupVersionOf(shown: ShowOutput): 1 | 2 | undefined {
  return shown.cgroupFs === "cgroup2fs" ? 2 : shown.cgroupFs === "tmpfs" ? 1 : undefined;
}

function compareUnit(spec: SliceSpec, props: Record<string, string>, cgroupVersion: 1 | 2 | undefined): Drift[] {
  const drifts: Drift[] = [];
  const add = (property: string, wanted: string, found: string | undefined) =>
    drifts.push({ unit: spec.unit, property, wanted, found: found ?? "(not shown)" });
  const path = `${UNIT_DIR}/${spec.unit}`;
  if (props.FragmentPath !== path) add("FragmentPath", path, props.FragmentPath || "(no unit file)");
  if (props.ActiveState !== "active") add("ActiveState", "active", props.ActiveState);
  // The file on disk differs from what systemd loaded: the next daemon-reload changes the limits.
  if (props.NeedDaemonReload === "yes") add("NeedDaemonReload", "no", "yes (unit file edited since systemd loaded it)");
  const want = expectedShow(spec);
  for (const property of ENFORCED_PROPERTIES) {
    if (!sameValue(property, want[property], props[property])) add(property, want[property], props[property]);
  }
  // What binds: a value changed in the cgroup's files behind systemd's back shows only here.
  // Files the host did not let us read are not reported (they were not printed).
  if (cgroupVersion !== undefined) {
    for (const [name, wanted] of Object.entries(expectedKernel(spec, cgroupVersion))) {
      const found = props[`Kernel.${name}`];
      if (found !== undefined && wanted !== undefined && found.trim() !== wanted) add(`kernel ${name}`, wanted, found);
    }
  }
  return drifts;
}

function sameValue(property: EnforcedProperty, wanted: string, found: string | undefined): boolean {
  if (found === undefined) return false;
  if (property === "CPUQuotaPerSecUSec") {
    const a = parseTimespan(wanted);
    return a !== undefined && a === parseTimespan(found);
  }
  return wanted === found.trim();
}

/** The report as people read it; empty drifts say so. */
export function formatDriftReport(host: string, report: DriftReport): string {
  const lines = report.drifts.length === 0
    ? [`${host}: host slices match the stack`]
    : [
        `${host}: ${report.drifts.length} difference${report.drifts.length === 1 ? "" : "s"} between the stack and the host:`,
        ...report.drifts.map((d) => `  - ${d.unit} ${d.property}: wanted ${d.wanted}, found ${d.found}`),
        "Re-apply with `pulumi up --replace <urn of the slice's Command>` (see docs/host-slices.md).",
      ];
  return [...lines, ...report.notes.map((note) => `note: ${note}`)].join("\n");
}
