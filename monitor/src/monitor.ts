/**
 * One monitor: scan → classify → decide → reap, with its audit log and metrics. Timers, the HTTP
 * server and process signals live in main.ts; everything here takes its I/O as arguments, so a test
 * can run ticks against a fixture /proc and a fake kill().
 */
import { eventRecord, reapRecord, writeRecord, zombieRecord, type Write } from "./audit";
import type { Settings } from "./config";
import { emptyMetricsState, recordOutcome, renderMetrics, scanFigures, type Health } from "./metrics";
import { CommandMatcher } from "./patterns";
import { anonymousMemoryGate, decide, type Decision, type GroupMemory, type PolicyMemory } from "./policy";
import type { ProcReader, ProcessTable } from "./proc/reader";
import { reapGroup, type ReaperIo } from "./reaper";
import { classify, EMPTY_TREE_MEMORY, type Snapshot, type TreeMemory } from "./tree";

/**
 * How long one scan may spend reading new command lines: half the interval, at most a second.
 * Stats are always read whole; a scan past its budget leaves the remaining command lines for the
 * next scan (and counts itself in scans_cut_short_total), so a flood of hostile processes slows
 * recognition, never the loop, the emergency sweep or /healthz.
 */
export function scanBudgetMs(intervalMs: number): number {
  return Math.min(1000, intervalMs / 2);
}

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
  private memory: PolicyMemory = new Map<number, GroupMemory>();
  private treeMemory: TreeMemory = EMPTY_TREE_MEMORY;
  private readonly reaping = new Map<number, Promise<void>>();
  private reportedZombies = new Set<string>();
  private readonly dryRunReported = new Set<string>();
  /** The main server last reported (pid), null once reported missing, undefined before the first scan. */
  private reportedMain: number | null | undefined;
  private reportedImpostors = "";
  private emergency = false;
  private emergencyUnresolvedReported = false;
  private cutShort = false;
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
    const deadline = started + scanBudgetMs(this.settings.intervalMs);
    try {
      const table = this.deps.reader.scan({ expired: () => this.deps.now() >= deadline }, anonymousMemoryGate(this.settings));
      const snapshot = classify(table, { matcher: this.matcher, selfPid: this.deps.selfPid }, this.treeMemory);
      this.treeMemory = snapshot.memory;
      const { decisions, memory, emergency, unresolved } = decide({
        nowMs: started,
        snapshot,
        settings: this.settings,
        memory: this.memory,
        reaping: new Set(this.reaping.keys()),
        emergency: this.emergency,
      });
      this.memory = memory;
      this.reportChanges(snapshot, table);
      this.reportEmergency(snapshot, emergency, unresolved && this.reaping.size === 0 && decisions.length === 0);
      for (const decision of this.settings.dryRun ? this.firstDryRuns(decisions, snapshot) : decisions) this.startReap(decision);
      this.metricsState.scans++;
      if (table.pendingCommandLines > 0) this.metricsState.scansCutShort++;
      this.metricsState.commandCacheBytes = this.matcher.cacheBytes;
      this.metricsState.last = scanFigures(snapshot, table, emergency, (this.deps.now() - started) / 1000);
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
    if (decisions.length === 0 && this.dryRunReported.size === 0) return decisions; // nothing to log, nothing to forget
    const present = new Set([...snapshot.groups, ...snapshot.others].map((g) => `${g.sid}:${g.startTime}`));
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

  /**
   * Audit lines for what changed since the last scan: new zombies, the main server found, changed
   * or missing, impostors matching its pattern, a scan cut short by its time budget.
   */
  private reportChanges(snapshot: Snapshot, table: ProcessTable): void {
    const at = this.deps.clock();
    const zombies = new Set<string>();
    for (const zombie of snapshot.zombies) {
      const key = `${zombie.pid}:${zombie.ppid}:${zombie.comm}`;
      zombies.add(key);
      if (!this.reportedZombies.has(key)) writeRecord(this.deps.write, zombieRecord(at, zombie));
    }
    this.reportedZombies = zombies;

    const main = snapshot.mainPid ?? null;
    if (main !== this.reportedMain) {
      writeRecord(
        this.deps.write,
        main !== null
          ? eventRecord(at, "main-server-found", { pid: main, ...(typeof this.reportedMain === "number" ? { previousPid: this.reportedMain } : {}) })
          : eventRecord(at, "main-server-missing", {
              note:
                "no process in PID 1's session below the entrypoint matches MONITOR_MAIN_PATTERN; " +
                "until one does, only groups whose leader is gone count as orphaned",
            }),
      );
      this.reportedMain = main;
    }

    const impostors = snapshot.mainPatternPids.filter((pid) => pid !== snapshot.mainPid);
    const key = snapshot.mainPatternPids.length > 1 ? impostors.join(",") : "";
    if (key !== this.reportedImpostors) {
      if (key !== "") {
        writeRecord(
          this.deps.write,
          eventRecord(at, "main-pattern-ambiguous", {
            mainPid: snapshot.mainPid ?? null,
            impostorPids: impostors,
            note: "these match MONITOR_MAIN_PATTERN but are not the main server (not in PID 1's session below the entrypoint); they get no protection",
          }),
        );
      }
      this.reportedImpostors = key;
    }

    const cutShort = table.pendingCommandLines > 0;
    if (cutShort && !this.cutShort) {
      writeRecord(
        this.deps.write,
        eventRecord(at, "scan-cut-short", {
          pendingCommandLines: table.pendingCommandLines,
          budgetMs: scanBudgetMs(this.settings.intervalMs),
          note: "command lines left unread are read by the next scans; until then those processes are not recognised",
        }),
      );
    }
    this.cutShort = cutShort;
  }

  /** An emergency's start and end, and once per emergency when what may be reaped cannot end it. */
  private reportEmergency(snapshot: Snapshot, emergency: boolean, unresolved: boolean): void {
    const at = this.deps.clock();
    const figures = {
      tasks: snapshot.tasks,
      anonymousBytes: snapshot.anonymousBytes ?? null,
      rssBytes: snapshot.rssBytes,
      emergencyTasks: this.settings.emergencyTasks,
      emergencyAnonymousBytes: this.settings.emergencyAnonymousBytes,
    };
    if (emergency !== this.emergency) {
      writeRecord(this.deps.write, eventRecord(at, emergency ? "emergency-start" : "emergency-end", figures));
      this.emergencyUnresolvedReported = false;
    }
    if (emergency && unresolved && !this.emergencyUnresolvedReported) {
      writeRecord(
        this.deps.write,
        eventRecord(at, "emergency-unresolved", {
          ...figures,
          note: "what holds the rest is protected (PID 1's or the main server's session) or the live groups are at the floor",
        }),
      );
      this.emergencyUnresolvedReported = true;
    }
    this.emergency = emergency;
  }
}
