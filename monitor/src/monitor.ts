/**
 * One monitor: scan → classify → decide → reap, with its audit log and metrics. Timers, the HTTP
 * server and process signals live in main.ts; everything here takes its I/O as arguments, so a test
 * can run ticks against a fixture /proc and a fake kill().
 */
import { eventRecord, reapRecord, writeRecord, zombieRecord, type Write } from "./audit";
import type { Settings } from "./config";
import { emptyMetricsState, recordOutcome, renderMetrics, scanFigures, type Health } from "./metrics";
import { decide, type Decision, type GroupMemory } from "./policy";
import type { ProcReader } from "./proc/reader";
import { reapGroup, type ReaperIo } from "./reaper";
import { classify, CommandMatcher, type Snapshot } from "./tree";

export interface MonitorDeps {
  reader: ProcReader;
  write: Write;
  /** process.kill semantics. */
  kill: ReaperIo["kill"];
  sleep: ReaperIo["sleep"];
  /** Monotonic milliseconds. */
  now: () => number;
  /** Wall-clock time for audit lines. */
  clock: () => Date;
  selfPid: number;
  selfRssBytes: () => number;
}

export class Monitor {
  private memory = new Map<number, GroupMemory>();
  private readonly reaping = new Map<number, Promise<void>>();
  private reportedZombies = new Set<string>();
  private readonly dryRunReported = new Set<string>();
  private mainServerUp: boolean | undefined;
  private lastScanAtMs: number | undefined;
  private readonly metricsState;
  private readonly matcher: CommandMatcher;

  constructor(
    private readonly settings: Settings,
    private readonly deps: MonitorDeps,
  ) {
    this.metricsState = emptyMetricsState(settings.dryRun);
    this.matcher = new CommandMatcher(settings.mcpPatterns, settings.mainPattern);
  }

  /** One scan and its decisions. Reaps start here and finish in the background (see idle()). */
  tick(): Snapshot | undefined {
    const started = this.deps.now();
    try {
      const table = this.deps.reader.scan();
      const snapshot = classify(table, { matcher: this.matcher, selfPid: this.deps.selfPid });
      const { decisions, memory, emergency } = decide({
        nowMs: started,
        snapshot,
        settings: this.settings,
        memory: this.memory,
        reaping: new Set(this.reaping.keys()),
      });
      this.memory = memory;
      this.reportChanges(snapshot);
      for (const decision of this.settings.dryRun ? this.firstDryRuns(decisions, snapshot) : decisions) this.startReap(decision);
      this.metricsState.scans++;
      this.metricsState.last = scanFigures(snapshot, table.unreadable, emergency, (this.deps.now() - started) / 1000);
      this.lastScanAtMs = started;
      return snapshot;
    } catch (err) {
      this.metricsState.scanErrors++;
      writeRecord(this.deps.write, eventRecord(this.deps.clock(), "scan-error", { error: String((err as Error).stack ?? err) }));
      return undefined;
    }
  }

  /** Resolves when every reap started so far has finished. */
  async idle(): Promise<void> {
    while (this.reaping.size > 0) await Promise.all(this.reaping.values());
  }

  metrics(): string {
    this.metricsState.selfRssBytes = this.deps.selfRssBytes();
    return renderMetrics(this.metricsState);
  }

  /** Healthy while scans keep coming: the last one started less than three intervals ago. */
  health(): Health {
    if (this.lastScanAtMs === undefined) return { ok: false, detail: "no scan completed yet" };
    const ageMs = this.deps.now() - this.lastScanAtMs;
    return ageMs < 3 * this.settings.intervalMs
      ? { ok: true, detail: "ok" }
      : { ok: false, detail: `last scan ${Math.round(ageMs)}ms ago` };
  }

  private startReap(decision: Decision): void {
    const { group } = decision;
    const io: ReaperIo = {
      readStat: (pid) => this.deps.reader.readStat(pid),
      kill: this.deps.kill,
      sleep: this.deps.sleep,
      now: this.deps.now,
    };
    // The scan's process objects are rewritten by the next scan; the reap outlives it, so it gets
    // its own copy of who to signal.
    const target = { sid: group.sid, members: group.members.map(({ pid, pgid, startTime }) => ({ pid, pgid, startTime })) };
    const done = reapGroup(target, { killGraceMs: this.settings.killGraceMs, dryRun: this.settings.dryRun }, io)
      .then((result) => {
        recordOutcome(this.metricsState, decision.reason, result.outcome);
        writeRecord(this.deps.write, reapRecord(this.deps.clock(), decision, result, this.settings.dryRun));
      })
      .catch((err) => {
        writeRecord(this.deps.write, eventRecord(this.deps.clock(), "reap-error", { sid: group.sid, error: String(err) }));
      })
      .finally(() => this.reaping.delete(group.sid));
    this.reaping.set(group.sid, done);
  }

  /**
   * In dry-run nothing changes, so the same groups would be decided on every scan. Each group and
   * reason is logged once while the group lasts, keeping a long dry run's log readable.
   */
  private firstDryRuns(decisions: Decision[], snapshot: Snapshot): Decision[] {
    const present = new Set(snapshot.groups.map((g) => `${g.sid}:${g.startTime}`));
    for (const key of this.dryRunReported) {
      if (!present.has(key.slice(0, key.lastIndexOf(":")))) this.dryRunReported.delete(key);
    }
    return decisions.filter((d) => {
      const key = `${d.group.sid}:${d.group.startTime}:${d.reason}`;
      if (this.dryRunReported.has(key)) return false;
      this.dryRunReported.add(key);
      return true;
    });
  }

  /** Audit lines for what changed since the last scan: new zombies, the main server appearing or vanishing. */
  private reportChanges(snapshot: Snapshot): void {
    const at = this.deps.clock();
    const zombies = new Set<string>();
    for (const zombie of snapshot.zombies) {
      const key = `${zombie.pid}:${zombie.ppid}:${zombie.comm}`;
      zombies.add(key);
      if (!this.reportedZombies.has(key)) writeRecord(this.deps.write, zombieRecord(at, zombie));
    }
    this.reportedZombies = zombies;
    const up = snapshot.mainPids.length > 0;
    if (up !== this.mainServerUp) {
      writeRecord(
        this.deps.write,
        eventRecord(at, up ? "main-server-found" : "main-server-missing", {
          pids: snapshot.mainPids,
          ...(up ? {} : { note: "without it only groups whose leader is gone count as orphaned; check MONITOR_MAIN_PATTERN" }),
        }),
      );
      this.mainServerUp = up;
    }
  }
}
