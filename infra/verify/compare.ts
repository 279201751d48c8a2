/**
 * The decision: what the stack wants of each container against what its inspect document and
 * the kernel say is in force (pure). One row per setting, so a report names exactly what differs.
 */
import { formatSize } from "../config/units";
import type { Role } from "../containerSettings";
import { normalizePidsLimit, UNLIMITED } from "../pidsLimit/dockerApi";
import { containerNameOf, type ContainerInspect } from "./inspect";
import type { KernelReading } from "./kernel";
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

/** Rows for every wanted container; `found` holds undefined for a container that does not exist. */
export function compareStack(wanted: WantedContainer[], found: ReadonlyMap<Role, FoundContainer | undefined>): CheckRow[] {
  return wanted.flatMap((container) => compareContainer(container, found.get(container.role)));
}

/** True when nothing differs and nothing is missing (an unreadable kernel value is not a failure). */
export function allInForce(rows: readonly CheckRow[]): boolean {
  return rows.every((row) => row.status === "ok" || row.status === "unreadable");
}

export function compareContainer(wanted: WantedContainer, found: FoundContainer | undefined): CheckRow[] {
  const row = (setting: string, want: string, inForce: string, same = want === inForce): CheckRow => ({
    role: wanted.role,
    container: wanted.name,
    setting,
    wanted: want,
    inForce,
    status: same ? "ok" : "mismatch",
  });
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
    kernelRow(row, wanted.pidsLimit, kernel),
    ...(wanted.init !== undefined ? [row("Init", String(wanted.init), String(host.Init === true))] : []),
    row("RestartPolicy", wanted.restart, host.RestartPolicy?.Name || "no"),
    row("LogConfig.Type", wanted.log.type, log.Type ?? "(unset)"),
    ...Object.entries(wanted.log.options).map(([option, value]) =>
      row(`LogConfig ${option}`, value, log.Config?.[option] ?? "(unset)"),
    ),
    ...(wanted.healthcheck ? [healthcheckRow(row, wanted.healthcheck, inspect.Config?.Healthcheck?.Test)] : []),
    ...(wanted.cgroupParent !== undefined ? [row("CgroupParent", wanted.cgroupParent, host.CgroupParent || "(none)")] : []),
    ...Object.entries(wanted.labels).map(([label, value]) => row(`Label ${label}`, value, labels[label] ?? "(absent)")),
  ];
}

type RowMaker = (setting: string, want: string, inForce: string, same?: boolean) => CheckRow;

function kernelRow(row: RowMaker, wantedPids: number, kernel: KernelReading): CheckRow {
  if (!kernel.readable) return { ...row("pids.max (kernel)", pids(wantedPids), kernel.reason), status: "unreadable" };
  return row("pids.max (kernel)", pids(wantedPids), pids(kernel.pidsMax));
}

/** With a known command the test must match it exactly; otherwise any health check will do. */
function healthcheckRow(row: RowMaker, wanted: { test?: string[] }, test: string[] | null | undefined): CheckRow {
  const present = Array.isArray(test) && test.length > 0 && test[0] !== "NONE";
  const inForce = present ? JSON.stringify(test) : "none";
  if (wanted.test) return row("Healthcheck", JSON.stringify(wanted.test), inForce);
  return row("Healthcheck", "present", inForce, present);
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
