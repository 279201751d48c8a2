/**
 * The shell scripts the remote Commands run, as pure functions of the plan. Settings are in
 * the script text (SSH servers drop environment variables unless AcceptEnv allows them), and
 * every value is shell-quoted.
 */
import { ownershipFunctions, parentSliceGuardLines } from "./ownership";
import type { SliceSpec } from "./plan";
import { shellQuote as q, writeFileLines } from "./shell";
import { ENFORCED_PROPERTIES, expectedKernel, expectedShow, UNIT_DIR, unitText } from "./unitFile";

/**
 * Refuse early, with a reason, on a host systemd does not run. `what` names the feature and
 * `key` the switch that turns it off.
 */
export function needsSystemd(what: string, key: string): string[] {
  return [
    "if ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then",
    `  echo ${q(`metamcp-guard: ${what} need systemd, and`)} "$(hostname)" ${q(`does not run it (set ${key} false)`)} >&2`,
    "  exit 1",
    "fi",
  ];
}

const NEEDS_SYSTEMD = needsSystemd("host slices", "host.slices.enabled");

/**
 * Create and update: refuse a unit file that is not this stack's (ownership.ts), and for the parent a
 * slice of another stack above or below it; write the unit atomically (a temp file in the same
 * directory, renamed over the old one, so systemd never reads half a file), daemon-reload, start,
 * then read the limits back and fail when systemd holds other values. Never `restart`: restarting a
 * slice stops everything in it, while daemon-reload applies new limits to the running slice and
 * leaves its containers alone.
 */
export function applyScript(spec: SliceSpec, stack: string): string {
  const want = expectedShow(spec);
  const parent = spec.role === "parent";
  return [
    "set -eu",
    `unit=${q(spec.unit)}`,
    `dir=${q(UNIT_DIR)}`,
    ...NEEDS_SYSTEMD,
    ...ownershipFunctions(stack),
    'refuse_unless_ours "$dir/$unit" "$unit"',
    ...(parent ? parentSliceGuardLines() : []),
    ...writeFileLines(`${UNIT_DIR}/${spec.unit}`, unitText(spec, stack)),
    ...(parent ? ["release_older_parents"] : []),
    "systemctl daemon-reload",
    'systemctl start "$unit"',
    "bad=0",
    "check() {",
    '  got=$(systemctl show -p "$1" --value "$unit")',
    '  if [ "$got" != "$2" ]; then',
    '    echo "metamcp-guard: $unit: $1 in force is \'$got\', wanted \'$2\'" >&2',
    "    bad=1",
    "  fi",
    "}",
    ...ENFORCED_PROPERTIES.map((property) => `check ${property} ${q(want[property])}`),
    ...kernelChecks(spec),
    'if [ "$bad" -ne 0 ]; then',
    '  echo "metamcp-guard: $unit was written to $dir but its limits are not in force (see above); check for drop-ins: systemctl cat $unit" >&2',
    "  exit 1",
    "fi",
    // cgroup v1 (legacy/hybrid): systemd maps MemoryMax, TasksMax and CPUQuota onto the v1
    // controllers, but has no v1 knob for MemorySwapMax. Say so rather than pretend.
    'if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then',
    '  echo "metamcp-guard: note: $(hostname) uses cgroup v1; $unit binds memory, tasks and CPU, but MemorySwapMax is not enforced there (each container\'s memorySwap still caps its swap)" >&2',
    "fi",
    `echo ${q(`metamcp-guard: ${spec.unit} in force: ${ENFORCED_PROPERTIES.map((p) => `${p}=${want[p]}`).join(" ")}`)}`,
    "",
  ].join("\n");
}

/**
 * The kernel's own files for the slice's cgroup, compared too: `systemctl show` reports what
 * systemd was told, the files what binds. They differ where systemd cannot map a setting onto
 * the hierarchy (older systemd put MemoryMax only on cgroup v2; no systemd maps MemorySwapMax onto
 * v1, so swap is not checked there). A file that cannot be read (an unusual cgroup mount) is
 * reported and skipped rather than failing the deploy; a value that differs fails it.
 */
function kernelChecks(spec: SliceSpec): string[] {
  const v2 = expectedKernel(spec, 2);
  const v1 = expectedKernel(spec, 1);
  return [
    'cg=$(systemctl show -p ControlGroup --value "$unit")',
    "kcheck() {",
    '  if [ ! -r "$1" ]; then echo "metamcp-guard: note: cannot read $1; kernel value not checked" >&2; return 0; fi',
    '  got=$(cat "$1")',
    '  if [ "$got" != "$2" ]; then',
    '    echo "metamcp-guard: $unit: kernel $1 is \'$got\', wanted \'$2\'" >&2',
    "    bad=1",
    "  fi",
    "}",
    'if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then',
    `  kcheck "/sys/fs/cgroup$cg/memory.max" ${q(v2.memory)}`,
    `  kcheck "/sys/fs/cgroup$cg/memory.swap.max" ${q(v2.swap!)}`,
    `  kcheck "/sys/fs/cgroup$cg/pids.max" ${q(v2.pids)}`,
    `  kcheck "/sys/fs/cgroup$cg/cpu.max" ${q(v2.cpu)}`,
    "else",
    `  kcheck "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes" ${q(v1.memory)}`,
    `  kcheck "/sys/fs/cgroup/pids$cg/pids.max" ${q(v1.pids)}`,
    `  kcheck "/sys/fs/cgroup/cpu$cg/cpu.cfs_quota_us" ${q(v1.cpu)}`,
    "fi",
  ];
}

/**
 * Delete: stop and remove the unit, but only once nothing runs in it, and only a file this stack
 * wrote. Containers are deleted before their slice, so it is empty on a normal delete. If
 * something still runs (a replacement of this resource, or a process started by hand) the unit
 * stays as it is: removing the file would drop its limits at once and stopping the slice would
 * kill what runs in it. A file that is not the stack's is left alone, and so is its unit.
 */
export function deleteScript(unit: string, stack: string): string {
  return [
    "set -eu",
    `unit=${q(unit)}`,
    `dir=${q(UNIT_DIR)}`,
    ...NEEDS_SYSTEMD,
    ...ownershipFunctions(stack),
    'if [ ! -e "$dir/$unit" ] && [ ! -L "$dir/$unit" ]; then',
    '  echo "metamcp-guard: $dir/$unit is already gone; nothing to remove"',
    "  exit 0",
    "fi",
    'if ! is_ours "$dir/$unit"; then',
    '  echo "metamcp-guard: $dir/$unit was not written by stack $stack; it and its unit are left as they are" >&2',
    "  exit 0",
    "fi",
    'tasks=$(systemctl show -p TasksCurrent --value "$unit" 2>/dev/null || true)',
    'case "$tasks" in ""|*[!0-9]*) tasks=0 ;; esac',
    'if [ "$tasks" -gt 0 ]; then',
    '  echo "metamcp-guard: $unit still holds $tasks tasks; left in place (its limits keep binding). Once it is empty: systemctl stop $unit; rm $dir/$unit; systemctl daemon-reload" >&2',
    "  exit 0",
    "fi",
    'systemctl stop "$unit" 2>/dev/null || true',
    'rm -f "$dir/$unit"',
    "systemctl daemon-reload",
    'echo "metamcp-guard: $unit stopped and removed"',
    "",
  ].join("\n");
}

/** Properties the drift check reads for each unit (reading needs no root). */
export const SHOWN_PROPERTIES = [...ENFORCED_PROPERTIES, "ActiveState", "FragmentPath", "NeedDaemonReload", "DropInPaths", "TasksCurrent"] as const;

/**
 * Prints, for each unit, a `@unit=<name>` line and its properties, then the cgroup
 * filesystem type. One SSH round trip for the whole check.
 */
export function showScript(units: string[]): string {
  return [
    "set -eu",
    'v2=no; [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] && v2=yes',
    // Kernel values as Kernel.<name>=<value>; a file that cannot be read prints nothing.
    'kernel() { if [ -r "$2" ]; then echo "Kernel.$1=$(cat "$2")"; fi; }',
    `for unit in ${units.map(q).join(" ")}; do`,
    '  echo "@unit=$unit"',
    `  systemctl show -p ${SHOWN_PROPERTIES.join(",")} "$unit"`,
    '  cg=$(systemctl show -p ControlGroup --value "$unit")',
    '  if [ -z "$cg" ]; then continue; fi',
    '  if [ "$v2" = yes ]; then',
    '    kernel memory "/sys/fs/cgroup$cg/memory.max"; kernel swap "/sys/fs/cgroup$cg/memory.swap.max"',
    '    kernel pids "/sys/fs/cgroup$cg/pids.max"; kernel cpu "/sys/fs/cgroup$cg/cpu.max"',
    "  else",
    '    kernel memory "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes"; kernel pids "/sys/fs/cgroup/pids$cg/pids.max"',
    '    kernel cpu "/sys/fs/cgroup/cpu$cg/cpu.cfs_quota_us"',
    "  fi",
    "done",
    'echo "@cgroupfs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo unknown)"',
    "",
  ].join("\n");
}
