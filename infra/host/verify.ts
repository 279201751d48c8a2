/**
 * The host part of verification: read the slices' values in force over SSH and compare them
 * with what the stack's config wants. The decisions live in drift.ts; this only talks.
 */
import { compareWithHost, parseShowOutput, type DriftReport } from "./drift";
import { planSlices, slicesOf, type SliceSettings } from "./plan";
import { showScript } from "./scripts";
import { runOverSsh } from "./ssh";
import { shellQuote } from "./shell";

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
