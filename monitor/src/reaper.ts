/**
 * Kills one MCP group: SIGTERM to each of its process groups, a grace, SIGKILL to what is left.
 *
 * A pid can be reused the moment its process is collected, so every signal is preceded by a fresh
 * read of a member's stat: only a member with the same start time and still in the process group
 * anchors it. The signal then goes to the whole process group (kill(-pgid)), which also reaches
 * children forked since the scan. That is safe because the kernel does not hand out a process-group
 * id while any process still belongs to that group: a verified member pins the number to our group.
 *
 * The I/O (reading stat, sending signals, sleeping) is passed in, so tests drive the sequence
 * without processes.
 */
import type { ProcStat } from "./proc/parse";

export type Signal = "SIGTERM" | "SIGKILL";

/**
 * exited: gone after SIGTERM; killed: gone after SIGKILL; survived: still there after SIGKILL (stuck
 * in the kernel); vanished: gone before any signal; failed: a signal was refused (EPERM);
 * dry-run: nothing sent by design.
 */
export type Outcome = "exited" | "killed" | "survived" | "vanished" | "failed" | "dry-run";

export interface ReapTarget {
  sid: number;
  members: ReadonlyArray<{ pid: number; pgid: number; startTime: number }>;
}

export interface ReapResult {
  outcome: Outcome;
  /** Signals sent, in order (one entry per signal, whatever the number of process groups). */
  signals: Signal[];
  error?: string;
  durationMs: number;
}

export interface ReaperIo {
  readStat(pid: number): ProcStat | "gone" | "denied";
  /** process.kill semantics: a negative pid is a process group; throws errors with a code. */
  kill(pid: number, signal: Signal): void;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export interface ReapOptions {
  killGraceMs: number;
  dryRun: boolean;
  /** How often to look whether the group has exited during a grace. */
  pollMs?: number;
  /** How long to wait for SIGKILL to take effect before calling it "survived". */
  killWaitMs?: number;
}

export async function reapGroup(target: ReapTarget, options: ReapOptions, io: ReaperIo): Promise<ReapResult> {
  const started = io.now();
  const pollMs = options.pollMs ?? 100;
  const finish = (outcome: Outcome, signals: Signal[], error?: string): ReapResult => ({
    outcome,
    signals,
    ...(error ? { error } : {}),
    durationMs: io.now() - started,
  });

  if (options.dryRun) return finish("dry-run", []);

  const term = signalGroups(target, "SIGTERM", io);
  if (term.error) return finish("failed", term.sent ? ["SIGTERM"] : [], term.error);
  if (!term.sent) return finish("vanished", []);
  if (await waitForExit(target, options.killGraceMs, pollMs, io)) return finish("exited", ["SIGTERM"]);

  const kill = signalGroups(target, "SIGKILL", io);
  if (kill.error) return finish("failed", ["SIGTERM", ...(kill.sent ? (["SIGKILL"] as const) : [])], kill.error);
  if (!kill.sent) return finish("exited", ["SIGTERM"]); // exited between the last look and the signal
  const gone = await waitForExit(target, options.killWaitMs ?? 1000, pollMs, io);
  return finish(gone ? "killed" : "survived", ["SIGTERM", "SIGKILL"]);
}

/** A member that is still the process we scanned and still running in its process group. */
function isAlive(member: ReapTarget["members"][number], io: ReaperIo): boolean {
  const stat = io.readStat(member.pid);
  return (
    typeof stat === "object" &&
    stat.startTime === member.startTime &&
    stat.pgid === member.pgid &&
    stat.state !== "Z" &&
    stat.state !== "X"
  );
}

/** Signals every process group of the target that still has a verified member. */
function signalGroups(target: ReapTarget, signal: Signal, io: ReaperIo): { sent: boolean; error?: string } {
  let sent = false;
  const pgids = [...new Set(target.members.map((m) => m.pgid))];
  for (const pgid of pgids) {
    // Never PID 1's group or "every process" (0, -1): the tree protects these, this is the last guard.
    if (pgid <= 1) continue;
    const anchored = target.members.some((m) => m.pgid === pgid && isAlive(m, io));
    if (!anchored) continue;
    try {
      io.kill(-pgid, signal);
      sent = true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ESRCH") continue; // the group exited after our check
      return { sent, error: `${signal} to group ${pgid}: ${code ?? (err as Error).message}` };
    }
  }
  return { sent };
}

async function waitForExit(target: ReapTarget, withinMs: number, pollMs: number, io: ReaperIo): Promise<boolean> {
  const deadline = io.now() + withinMs;
  for (;;) {
    if (!target.members.some((m) => isAlive(m, io))) return true;
    const left = deadline - io.now();
    if (left <= 0) return false;
    await io.sleep(Math.min(pollMs, left));
  }
}
