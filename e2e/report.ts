/** The e2e's figures, what they must be, and how they are printed. Pure. */
import type { RunningStack } from "./stack";
import type { Sample } from "./observe";

export interface Figures {
  image: string;
  stackFile: string;
  declared: RunningStack["declared"];
  clients: { abandoned: number; closed: number; sseDropped: number };
  /** MetaMCP's server groups with only the idle set and the session in use. */
  baselineGroups: number;
  peakGroups: number;
  leak: {
    /** Seconds into the run when the last abandoned session was left. */
    lastAbandonAt: number;
    /** When the groups were back at the baseline; undefined if they never were. */
    backToBaselineAt?: number;
    /** The guard's idle timeout plus one sweep and one monitor scan, seconds. */
    boundSeconds: number;
  };
  samples: Sample[];
  guard: { endedIdle: number; endedByClient: number; deletesOk: number; deletesFailed: number };
  monitor: { reaps: string[]; records: number };
  /** `failed`: calls that failed before any fault was injected; `failedInFaults`: after (with --faults). */
  inUse: { calls: number; failed: number; failedInFaults: number; reconnects: number; tools: number };
  serversInError: string[];
  forkFailures: number;
  /** Crashes MetaMCP counted ("crashed. Attempt n/max") before any fault was injected. */
  crashesCounted: number;
  /** Times the emulated keeper started the monitor again (after MetaMCP restarted, Docker may give up on it). */
  keeperStarts: number;
  faults?: Record<string, unknown>;
}

/** What failed, in words; empty when the run passed. */
export function judge(f: Figures): string[] {
  const failures: string[] = [];
  if (f.serversInError.length > 0) failures.push(`MetaMCP marked ${f.serversInError.join(", ")} ERROR`);
  if (f.inUse.failed > 0) failures.push(`${f.inUse.failed} tool calls of the session in use failed`);
  if (f.crashesCounted > 0) failures.push(`MetaMCP counted ${f.crashesCounted} server crashes`);
  const emergencyReaps = f.monitor.reaps.filter((reason) => reason === "emergency").length;
  if (emergencyReaps > 0) {
    // The sweep is the stack's last line, for load past what it was sized for: such a run says nothing
    // of MetaMCP at its planned load. Say so, rather than leave the crashes it caused unexplained.
    failures.push(
      `the monitor reaped ${emergencyReaps} groups in an emergency: the load went past the stack's app.capacity ` +
        `(its sweep starts at ${f.declared.emergencyTasks} tasks); give the stack file the capacity this run needs, or pass fewer --rounds`,
    );
  }
  if (f.forkFailures > 0) failures.push(`${f.forkFailures} log lines of MetaMCP say a thread or process could not be made (EAGAIN)`);
  const took = f.leak.backToBaselineAt === undefined ? undefined : f.leak.backToBaselineAt - f.leak.lastAbandonAt;
  if (took === undefined) failures.push("the abandoned sessions' groups never went away");
  else if (took > f.leak.boundSeconds) failures.push(`the abandoned sessions' groups took ${took.toFixed(0)} s to go, over the bound of ${f.leak.boundSeconds} s`);
  if (f.guard.endedIdle < f.clients.abandoned) failures.push(`the guard ended ${f.guard.endedIdle} of ${f.clients.abandoned} abandoned sessions`);
  return failures;
}

const max = (values: number[]) => Math.max(...values.filter(Number.isFinite));

export function formatReport(f: Figures): string {
  const tasks = f.samples.map((s) => s.tasks);
  const memory = f.samples.map((s) => s.memoryMiB);
  const took = f.leak.backToBaselineAt === undefined ? "never" : `${(f.leak.backToBaselineAt - f.leak.lastAbandonAt).toFixed(0)} s`;
  const every = Math.max(1, Math.round(f.samples.length / 16));
  const lines = [
    `e2e:metamcp on ${f.image}, declared by ${f.stackFile}`,
    `  caps: ${f.declared.appPids} tasks, ${f.declared.appMemoryMiB} MiB; guard idle timeout ${f.declared.idleTimeout} (sweep ${f.declared.sweepInterval}), monitor scan ${f.declared.monitorInterval}; MCP_MAX_ATTEMPTS ${f.declared.maxAttempts}, SESSION_LIFETIME ${f.declared.sessionLifetime ?? "unset"}`,
    `  clients: ${f.clients.abandoned} sessions abandoned (killed), ${f.clients.closed} closed with DELETE, ${f.clients.sseDropped} SSE clients dropped; one session in use throughout`,
    `  tasks: peak ${max(tasks)} of ${f.declared.appPids} (emergency sweep at ${f.declared.emergencyTasks}); memory: peak ${max(memory)} MiB of ${f.declared.appMemoryMiB} MiB`,
    `  server groups: ${f.baselineGroups} with the idle set and the session in use, ${f.peakGroups} after the last round, back to ${f.baselineGroups} ${took} after the last abandon (bound ${f.leak.boundSeconds} s)`,
    `  guard: ${f.guard.endedIdle} sessions ended idle by DELETE (${f.guard.deletesOk} DELETEs ok, ${f.guard.deletesFailed} failed), ${f.guard.endedByClient} ended by their client`,
    `  monitor: ${f.monitor.reaps.length} reaps${f.monitor.reaps.length ? ` (${[...new Set(f.monitor.reaps)].join(", ")})` : ""}, ${f.monitor.records} audit records; started again by the keeper ${f.keeperStarts} time(s)`,
    `  session in use: ${f.inUse.calls} tool calls, ${f.inUse.failed} failed${f.faults ? ` (and ${f.inUse.failedInFaults} during the faults)` : ""}, ${f.inUse.reconnects} re-initialised (${f.inUse.tools} tools)`,
    `  servers marked ERROR: ${f.serversInError.length ? f.serversInError.join(", ") : "none"}; crashes MetaMCP counted: ${f.crashesCounted}; EAGAIN lines: ${f.forkFailures}`,
    "  over time (s: tasks, MiB, groups, guard sessions):",
    ...f.samples.filter((_, i) => i % every === 0).map((s) => `    ${String(s.t).padStart(4)}: ${s.tasks}, ${s.memoryMiB}, ${s.groups}, ${s.guardSessions}`),
    ...(f.faults ? [`  faults: ${JSON.stringify(f.faults)}`] : []),
  ];
  const failures = judge(f);
  lines.push(failures.length === 0 ? "  PASSED" : `  FAILED: ${failures.join("; ")}`);
  return `${lines.join("\n")}\n`;
}
