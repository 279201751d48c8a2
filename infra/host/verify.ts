/**
 * The host part of verification: read the slices' values in force, and the kernel's limits on each of
 * the stack's containers, over SSH, and compare them with what the stack's config wants. The decisions
 * live in drift.ts and infra/verify/compare.ts; this only talks.
 */
import type { StackConfig } from "../config";
import { compareKernel } from "../verify/compare";
import { filesOverShell, type ShellRunner } from "../verify/hostFiles";
import type { ContainerInspect } from "../verify/inspect";
import { readContainerKernel } from "../verify/kernel";
import { wantedContainers } from "../verify/wanted";
import { compareWithHost, parseShowOutput, type Drift, type DriftReport } from "./drift";
import { planSlices, slicesOf, type SliceSettings } from "./plan";
import { showScript } from "./scripts";
import { runOverSsh } from "./ssh";
import { remoteCommand, shellQuote } from "./shell";

export async function checkHostDrift(settings: SliceSettings, privateKey: string): Promise<DriftReport> {
  const ssh = settings.host.ssh;
  if (!settings.host.slices.enabled || !ssh) throw new Error("host.slices.enabled is false: there is nothing on the host to check");
  const plan = planSlices(settings);
  const result = await runOverSsh(ssh, privateKey, `sh -c ${shellQuote(showScript(slicesOf(plan).map((s) => s.unit)))}`);
  if (result.code !== 0) {
    throw new Error(`reading the slices on ${ssh.host} failed (exit ${result.code}): ${result.stderr.trim() || "(no message)"}`);
  }
  return compareWithHost(plan, parseShowOutput(result.stdout));
}

/**
 * The kernel's limits on each container of the stack (memory.max, memory.swap.max, pids.max, cpu.max of
 * its own cgroup, swap where it binds), read over the stack's SSH connection: a swap turned back on by a
 * `daemon-reload` or a cap lifted under Docker is drift here, whatever Docker's HostConfig says. Finding
 * the containers needs `docker inspect` (root, or sudo for another user); reading the files does not.
 */
export async function checkContainerKernels(config: StackConfig, privateKey: string): Promise<{ drifts: Drift[]; notes: string[] }> {
  const ssh = config.host.ssh;
  if (!ssh) throw new Error("host.ssh is not set: the containers' cgroups cannot be read over SSH");
  const run: ShellRunner = (script) => runOverSsh(ssh, privateKey, remoteCommand(script, ssh.user));
  const wanted = wantedContainers(config);
  const inspect = await run(`docker inspect --type container ${wanted.map((c) => shellQuote(c.name)).join(" ")} 2>/dev/null || true`);
  const documents = parseInspectOutput(inspect.stdout);
  const files = filesOverShell(run, `${ssh.host} (host.ssh)`);
  const drifts: Drift[] = [];
  const notes: string[] = [];
  for (const container of wanted) {
    const found = documents.find((doc) => doc.Name === `/${container.name}`);
    if (!found) {
      // Not drift of the host: `npm run verify` reports a missing container, with what else it finds.
      notes.push(`${container.name}: no such container on the host; its kernel limits were not checked`);
      continue;
    }
    for (const row of compareKernel(container, await readContainerKernel(found, files))) {
      if (row.status === "unreadable") notes.push(`${container.name} ${row.setting}: ${row.inForce}`);
      else if (row.status !== "ok") drifts.push({ unit: container.name, property: row.setting, wanted: row.wanted, found: row.inForce });
    }
  }
  return { drifts, notes };
}

/** The containers' part of verify-host's report, as people read it. */
export function formatContainerKernels(host: string, result: { drifts: Drift[]; notes: string[] }): string {
  const lines = result.drifts.length === 0
    ? [`${host}: the containers' kernel limits match the stack`]
    : [
        `${host}: ${result.drifts.length} kernel limit${result.drifts.length === 1 ? "" : "s"} of the stack's containers differ:`,
        ...result.drifts.map((d) => `  - ${d.unit} ${d.property}: wanted ${d.wanted}, found ${d.found}`),
        "`pulumi up --refresh` sends them again (the PidsLimit resource re-applies the PID cap with memory and swap);" +
          " swap turned back on by a daemon-reload stays off only under a slice with MemorySwapMax=0 (see docs/verify.md).",
      ];
  return [...lines, ...result.notes.map((note) => `note: ${note}`)].join("\n");
}

/** `docker inspect`'s JSON array; nothing found prints `[]` (pure). */
export function parseInspectOutput(stdout: string): ContainerInspect[] {
  const text = stdout.trim();
  if (text === "") return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? (parsed as ContainerInspect[]) : [];
  } catch {
    throw new Error(`docker inspect on the host printed something that is not JSON: ${text.slice(0, 200)}`);
  }
}
