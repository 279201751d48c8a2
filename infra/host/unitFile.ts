/**
 * The text of a slice unit and the values `systemctl show` must report once systemd has it.
 * Pure, so both can be checked without a host and the scripts carry exactly this text.
 */
import type { SliceSpec } from "./plan";
import { formatTimespan } from "./timespan";

/** The properties read back after every write, and by the drift check. */
export const ENFORCED_PROPERTIES = ["MemoryMax", "MemorySwapMax", "TasksMax", "CPUQuotaPerSecUSec"] as const;
export type EnforcedProperty = (typeof ENFORCED_PROPERTIES)[number];

export const UNIT_DIR = "/etc/systemd/system";

export const OWNER_LINE_START = "# Written by metamcp-guard (Pulumi stack ";

/**
 * The start of the first line of every file a stack writes on the host, e.g. `# Written by metamcp-guard
 * (Pulumi stack prod)`: how the host scripts tell the stack's files from others' (ownership.ts).
 */
export function ownerLine(stack: string): string {
  return `${OWNER_LINE_START}${oneLine(stack)})`;
}

export function unitText(spec: SliceSpec, stack: string): string {
  return [
    `${ownerLine(stack)}; \`npm run verify-host -- ${oneLine(stack)}\` reports edits.`,
    "[Unit]",
    `Description=${unitValue(spec.description)}`,
    "",
    "[Slice]",
    // Accounting on, so TasksCurrent/MemoryCurrent can be read (delete checks the slice is empty).
    "MemoryAccounting=yes",
    `MemoryMax=${spec.memoryMax}`,
    `MemorySwapMax=${spec.memorySwapMax}`,
    "TasksAccounting=yes",
    `TasksMax=${spec.tasksMax}`,
    `CPUQuota=${spec.cpuQuotaPercent}%`,
    "",
  ].join("\n");
}

/** What `systemctl show -p <property> --value <unit>` prints when the unit's limits are in force. */
export function expectedShow(spec: SliceSpec): Record<EnforcedProperty, string> {
  return {
    MemoryMax: String(spec.memoryMax),
    MemorySwapMax: String(spec.memorySwapMax),
    TasksMax: String(spec.tasksMax),
    // CPUQuota=N% is N% of one second of CPU time per second.
    CPUQuotaPerSecUSec: formatTimespan(spec.cpuQuotaPercent * 10_000),
  };
}

/**
 * What the kernel's files for the slice's cgroup hold once systemd applied the unit: v2's
 * memory.max, memory.swap.max, pids.max, cpu.max; v1's memory.limit_in_bytes, pids.max,
 * cpu.cfs_quota_us (v1 has no swap value systemd sets). CPU is per systemd's default 100 ms period.
 */
export function expectedKernel(spec: SliceSpec, cgroupVersion: 1 | 2): { memory: string; pids: string; cpu: string; swap?: string } {
  const quota = spec.cpuQuotaPercent * 1000;
  return cgroupVersion === 2
    ? { memory: String(spec.memoryMax), swap: String(spec.memorySwapMax), pids: String(spec.tasksMax), cpu: `${quota} 100000` }
    : { memory: String(spec.memoryMax), pids: String(spec.tasksMax), cpu: String(quota) };
}

/** systemd expands `%` specifiers and joins lines ending in `\`; neither may come from data. */
export function unitValue(text: string): string {
  return oneLine(text).replace(/%/g, "%%").replace(/\\$/, "\\\\");
}

export function oneLine(text: string): string {
  if (/[\r\n\0]/.test(text)) throw new Error(`${JSON.stringify(text)} must be one line to go into a unit file`);
  return text;
}
