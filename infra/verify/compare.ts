/**
 * The decision: what the stack wants of each container against what its inspect document and
 * the kernel say is in force (pure). One row per setting, so a report names exactly what differs.
 */
// The policy pack's own reading of capability names and of what exposes the Docker socket, so that
// verify holds what runs to the same rules the pack holds declarations to (the pack imports nothing
// from infra/; this direction keeps it so).
import { SOCKET_DEFAULTS } from "../../policy/config";
import { capabilityName, exposesSocket } from "../../policy/security";
import { monitorPidMode } from "../components/monitor";
import { formatSize } from "../config/units";
import type { Role } from "../containerSettings";
import { normalizePidsLimit, UNLIMITED } from "../pidsLimit/dockerApi";
import { boundHostPaths, containerNameOf, securityOption, type ContainerInspect } from "./inspect";
import type { KernelReading, Reading } from "./kernel";
import type { WantedContainer } from "./wanted";

/** `unreadable`: the kernel's value could not be read here (a remote run); not a failure. */
export type CheckStatus = "ok" | "mismatch" | "missing" | "unreadable";

export interface CheckRow {
  role: Role;
  /** The container name the stack wants. */
  container: string;
  setting: string;
  wanted: string;
  inForce: string;
  status: CheckStatus;
}

/** What the I/O shell found for one wanted container. */
export interface FoundContainer {
  inspect: ContainerInspect;
  kernel: KernelReading;
  /** Names of further containers carrying the same stack and role labels (a copy made by hand). */
  alsoLabelled: string[];
}

/** What verify found for each role; undefined (or absent) for a container that does not exist. */
export type FoundContainers = ReadonlyMap<Role, FoundContainer | undefined>;

/** Rows for every wanted container. */
export function compareStack(wanted: WantedContainer[], found: FoundContainers): CheckRow[] {
  return wanted.flatMap((container) => compareContainer(container, found.get(container.role), found));
}

/** True when nothing differs and nothing is missing (an unreadable kernel value is not a failure). */
export function allInForce(rows: readonly CheckRow[]): boolean {
  return rows.every((row) => row.status === "ok" || row.status === "unreadable");
}

/**
 * Rows for one container. `others` are the stack's other containers as found: the monitor's
 * PidMode names MetaMCP's container by id (none given: it counts as missing).
 */
export function compareContainer(wanted: WantedContainer, found: FoundContainer | undefined, others: FoundContainers = new Map()): CheckRow[] {
  const row = rowMaker(wanted);
  if (!found) return [{ ...row("Container", wanted.name, "missing"), status: "missing" }];

  const { inspect, kernel } = found;
  const host = inspect.HostConfig ?? {};
  const labels = inspect.Config?.Labels ?? {};
  const log = host.LogConfig ?? {};
  return [
    row("Container", wanted.name, containerNameOf(inspect)),
    ...(found.alsoLabelled.length > 0
      ? [row("Containers with these labels", "1", `${1 + found.alsoLabelled.length} (also ${found.alsoLabelled.join(", ")})`)]
      : []),
    row("State", "running", inspect.State?.Status ?? "unknown"),
    row("Memory", bytes(wanted.memory), bytes(host.Memory ?? 0)),
    row("MemorySwap", bytes(wanted.memorySwap), bytes(host.MemorySwap ?? 0)),
    row("NanoCpus", cpus(wanted.nanoCpus), cpus(host.NanoCpus ?? 0)),
    row("PidsLimit", pids(wanted.pidsLimit), pids(normalizePidsLimit(host.PidsLimit))),
    ...kernelRows(row, wanted, kernel),
    ...(wanted.init !== undefined ? [row("Init", String(wanted.init), String(host.Init === true))] : []),
    row("RestartPolicy", wanted.restart, host.RestartPolicy?.Name || "no"),
    row("LogConfig.Type", wanted.log.type, log.Type ?? "(unset)"),
    ...Object.entries(wanted.log.options).map(([option, value]) =>
      row(`LogConfig ${option}`, value, log.Config?.[option] ?? "(unset)"),
    ),
    healthcheckRow(row, wanted.healthcheck, inspect.Config?.Healthcheck?.Test),
    ...(wanted.cgroupParent !== undefined ? [row("CgroupParent", wanted.cgroupParent, host.CgroupParent || "(none)")] : []),
    ...securityOptionRows(row, wanted.securityOptions, host.SecurityOpt ?? []),
    // For every container: privileged means every capability and device, which would make the rows below moot.
    row("Privileged", "false", String(host.Privileged === true)),
    ...capabilityRows(row, wanted.capabilities, host.CapAdd ?? [], host.CapDrop ?? []),
    ...(wanted.readonlyRootfs !== undefined ? [row("ReadonlyRootfs", String(wanted.readonlyRootfs), String(host.ReadonlyRootfs === true))] : []),
    ...(wanted.pidNamespaceOf ? [pidModeRow(row, wanted.pidNamespaceOf.name, others.get(wanted.pidNamespaceOf.role), host.PidMode)] : []),
    dockerSocketRow(row, boundHostPaths(inspect)),
    ...Object.entries(wanted.labels).map(([label, value]) => row(`Label ${label}`, value, labels[label] ?? "(absent)")),
  ];
}

type RowMaker = (setting: string, want: string, inForce: string, same?: boolean) => CheckRow;

function rowMaker(wanted: WantedContainer): RowMaker {
  return (setting, want, inForce, same = want === inForce) => ({
    role: wanted.role,
    container: wanted.name,
    setting,
    wanted: want,
    inForce,
    status: same ? "ok" : "mismatch",
  });
}

/** Only the kernel rows of one container (verify-host reads them over SSH, without the engine's API). */
export function compareKernel(wanted: WantedContainer, kernel: KernelReading): CheckRow[] {
  return kernelRows(rowMaker(wanted), wanted, kernel);
}

/**
 * The limits the kernel enforces on the container's own cgroup, against what Docker was asked for: memory,
 * swap (where it binds: a slice above the container may be what holds it at 0), PIDs and CPUs. Named by
 * their cgroup v2 files; on v1 they are read from memory.limit_in_bytes, memory.memsw.limit_in_bytes,
 * pids.max and cpu.cfs_quota_us / cpu.cfs_period_us.
 */
function kernelRows(row: RowMaker, wanted: WantedContainer, kernel: KernelReading): CheckRow[] {
  const wantedSwap = wanted.memorySwap < 0 ? Infinity : wanted.memorySwap - wanted.memory;
  const wants = {
    "memory.max (kernel)": kernelBytes(wanted.memory),
    "memory.swap.max (kernel)": kernelSwap(wantedSwap),
    "pids.max (kernel)": pids(wanted.pidsLimit),
    "cpu.max (kernel)": kernelCpus(wanted.nanoCpus / 1e9),
  };
  if (!kernel.readable) {
    return Object.entries(wants).map(([setting, want]) => ({ ...row(setting, want, kernel.reason), status: "unreadable" }));
  }
  const { limits } = kernel;
  const reading = <T>(setting: keyof typeof wants, value: Reading<T>, format: (v: T) => string, same?: (v: T) => boolean): CheckRow =>
    "value" in value
      ? row(setting, wants[setting], format(value.value), same ? same(value.value) : undefined)
      : { ...row(setting, wants[setting], value.unreadable), status: "unreadable" };
  return [
    reading("memory.max (kernel)", limits.memory, kernelBytes),
    reading(
      "memory.swap.max (kernel)",
      limits.swap,
      ({ bytes, boundBy }) => `${kernelSwap(bytes)}${boundBy ? ` (bound by ${boundBy})` : ""}`,
      ({ bytes }) => bytes === wantedSwap,
    ),
    reading("pids.max (kernel)", limits.pids, pids),
    reading("cpu.max (kernel)", limits.cpus, kernelCpus),
  ];
}

function kernelBytes(value: number): string {
  return value === Infinity ? "unlimited (max)" : formatSize(value);
}

function kernelSwap(value: number): string {
  return value === 0 ? "none (0)" : kernelBytes(value);
}

function kernelCpus(count: number): string {
  return count === Infinity ? "unlimited (max)" : cpus(Math.round(count * 1e9));
}

/** With a known command the test must match it exactly; otherwise any health check will do. */
function healthcheckRow(row: RowMaker, wanted: { test?: string[] }, test: string[] | null | undefined): CheckRow {
  const present = Array.isArray(test) && test.length > 0 && test[0] !== "NONE";
  const inForce = present ? JSON.stringify(test) : "none";
  if (wanted.test) return row("Healthcheck", JSON.stringify(wanted.test), inForce);
  return row("Healthcheck", "present", inForce, present);
}

/** Each option the stack sets, with its value in force; the engine's other options are left alone. */
function securityOptionRows(row: RowMaker, wanted: Record<string, string>, inForce: string[]): CheckRow[] {
  const options = new Map(inForce.map(securityOption));
  return Object.entries(wanted).map(([option, value]) => row(`SecurityOpt ${option}`, value, options.get(option) ?? "(absent)"));
}

/** Capability names as a sorted list without CAP_ ("KILL, NET_ADMIN"), or "(none)". */
function capabilityList(names: readonly string[]): string {
  return [...new Set(names.map(capabilityName))].sort().join(", ") || "(none)";
}

/** CapAdd exactly as wanted (nothing beyond); CapDrop, when the stack drops any, including each of them. */
function capabilityRows(row: RowMaker, wanted: WantedContainer["capabilities"], capAdd: string[], capDrop: string[]): CheckRow[] {
  const rows = [row("CapAdd", capabilityList(wanted.adds), capabilityList(capAdd))];
  if (wanted.drops.length === 0) return rows;
  const dropped = new Set(capDrop.map(capabilityName));
  const includesAll = wanted.drops.every((cap) => dropped.has(capabilityName(cap)));
  return [...rows, row("CapDrop", `includes ${capabilityList(wanted.drops)}`, capabilityList(capDrop), includesAll)];
}

/** The PID namespace of the container verify found in that role; with none found, the row fails. */
function pidModeRow(row: RowMaker, ownerName: string, owner: FoundContainer | undefined, pidMode: string | undefined): CheckRow {
  const inForce = pidMode || "(own namespace)";
  if (!owner) return row("PidMode", `container:<id of ${ownerName}> (missing)`, inForce, false);
  return row("PidMode", monitorPidMode(owner.inspect.Id), inForce);
}

/** No bind of the Docker socket, nor of a directory holding it (/run hands it over just the same). */
function dockerSocketRow(row: RowMaker, hostPaths: string[]): CheckRow {
  const exposing = hostPaths.flatMap((path) => {
    const socket = SOCKET_DEFAULTS.socketPaths.find((candidate) => exposesSocket(path, candidate));
    return socket ? [path === socket ? path : `${path} (holds ${socket})`] : [];
  });
  return row("Docker socket", "not mounted", exposing.join(", ") || "not mounted");
}

/** "1g" for 1 GiB; Docker's 0 means no limit and -1 (swap) unlimited swap. */
function bytes(value: number): string {
  if (value === 0) return "unlimited (0)";
  if (value < 0) return "unlimited (-1)";
  return formatSize(value);
}

/** NanoCpus as a CPU count: 1500000000 is "1.5 CPUs". */
function cpus(nano: number): string {
  if (nano === 0) return "unlimited (0)";
  const count = nano / 1e9;
  return `${count} ${count === 1 ? "CPU" : "CPUs"}`;
}

function pids(limit: number): string {
  return limit === UNLIMITED ? "unlimited" : String(limit);
}
