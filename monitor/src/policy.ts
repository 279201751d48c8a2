/**
 * The reap policy: which groups to kill this scan, and why. A pure function of the snapshot, the
 * settings, and what earlier scans remembered (when each group was first seen orphaned, its CPU
 * time, when that last moved, whether the last scan was an emergency). Everything the monitor
 * does to processes starts from its output.
 *
 * A kill of a live MCP group is never free: MetaMCP counts a server that dies without it closing it
 * as a crash, and with its default of one attempt (MCP_MAX_ATTEMPTS) that disables the server for
 * every client until an admin resets it. So live groups are reaped only when the alternative is
 * worse (an emergency) or when the operator asked for it (the cap and the budget, both off by
 * default). Orphans are what MetaMCP lost track of: reaping them costs nothing.
 *
 * Rules, in order:
 * 1. Emergency: tasks (what a pids limit counts) or anonymous memory (RssAnon summed: what the
 *    memory cgroup must keep charged; not RSS, which counts the pages Node processes share once
 *    per process) at or above its threshold. Every orphaned
 *    group goes at once; then the heaviest groups first, whatever their command line (a runaway
 *    in a session of its own matches no pattern), and among groups of about the heaviest's weight
 *    (SIMILAR_WEIGHT) the idlest first, so the sessions in use are the last of like groups to go;
 *    until what remains is below the release level,
 *    keeping at least the floor of live MCP groups. Groups being reaped count as gone already, so
 *    one victim is not followed by a second while it is still exiting. The emergency is not over
 *    while its cause is alive: it holds, and sweeps again every scan, until every measure is below
 *    EMERGENCY_RELEASE_SHARE of its threshold (hysteresis: a count hovering at the threshold does
 *    not toggle it). The normal rules wait meanwhile.
 * 2. Orphaned groups seen orphaned for at least the orphan grace. The grace lets a group that just
 *    received MetaMCP's SIGTERM finish exiting by itself.
 * 3. Live groups above the cap (if set), idlest first, down to the cap.
 * 4. Live groups while their RSS total is above the budget (if set), idlest first.
 *
 * "Idlest" is the longest time without CPU use; between equals, the oldest goes first. A group seen
 * for the first time counts as just active, so a fresh session is the last to go. Protected
 * sessions (PID 1's, the main server's, the monitor's) are never in the snapshot's groups at all.
 */
import type { Group, Snapshot } from "./tree";

export type ReapReason = "orphaned" | "over-cap" | "over-rss-budget" | "emergency";
export const REAP_REASONS: readonly ReapReason[] = ["orphaned", "over-cap", "over-rss-budget", "emergency"];

/** An emergency holds until every measure is below this share of its threshold. */
export const EMERGENCY_RELEASE_SHARE = 0.9;

/**
 * In an emergency, a group weighing at least this share of the heaviest left frees about as much:
 * between such groups the idlest goes first. MetaMCP's server groups weigh nearly the same (a busy
 * one has a thread or two more), and by weight alone the session in use would be the first victim.
 */
export const SIMILAR_WEIGHT = 0.8;

export interface PolicySettings {
  orphanGraceMs: number;
  /** Most live MCP groups kept; "off": no cap. */
  maxGroups: number | "off";
  /** 0: no budget. */
  rssBudgetBytes: number;
  /** Tasks at which the emergency starts; 0: off. */
  emergencyTasks: number;
  /** Anonymous memory (bytes, RssAnon summed over the watched processes) at which the emergency starts; 0: off. */
  emergencyAnonymousBytes: number;
  /** Live MCP groups the emergency keeps. */
  emergencyFloor: number;
}

/** What the policy remembers about a group between scans. */
export interface GroupMemory {
  /**
   * The leader's start time while it was alive. With it a session id reused by a new group (possible
   * only after every member of the old one exited) gets a fresh memory instead of the old one's.
   */
  leaderStartTime: number | undefined;
  firstSeenMs: number;
  /** When the group was first seen orphaned; undefined while it is live. */
  orphanedSinceMs?: number;
  cpuTicks: number;
  /** When its CPU time last changed (or it was first seen). */
  lastActiveMs: number;
}

export type PolicyMemory = ReadonlyMap<number, GroupMemory>;

export interface Decision {
  group: Group;
  reason: ReapReason;
  /** The numbers behind the reason, in words. */
  detail: string;
}

export interface PolicyInput {
  nowMs: number;
  snapshot: Snapshot;
  settings: PolicySettings;
  memory: PolicyMemory;
  /** Sessions being reaped right now: neither decided on again nor counted as live. */
  reaping: ReadonlySet<number>;
  /** Whether the last scan was in an emergency (the output's `emergency`). */
  emergency?: boolean;
}

export interface PolicyOutput {
  decisions: Decision[];
  /** The memory to pass to the next scan (the one passed in, when nothing changed). */
  memory: PolicyMemory;
  emergency: boolean;
  /** An emergency holds and what may be reaped is not enough to end it (the rest is protected, or the floor). */
  unresolved: boolean;
}

export function decide({ nowMs, snapshot, settings, memory, reaping, emergency: wasEmergency = false }: PolicyInput): PolicyOutput {
  const nextMemory = remember(nowMs, [snapshot.groups, snapshot.others], memory);
  const orphaned: Group[] = [];
  const liveGroups: Group[] = [];
  for (const group of snapshot.groups) {
    if (reaping.has(group.sid)) continue;
    if (group.state === "orphaned") orphaned.push(group);
    else if (group.state === "live") liveGroups.push(group);
  }
  const cap = settings.maxGroups === "off" ? Infinity : settings.maxGroups;

  const measures = emergencyMeasures(snapshot, settings);
  const emergency = measures.some((m) => m.value >= m.threshold) || (wasEmergency && measures.some((m) => m.value >= m.release));
  if (emergency) {
    const live = byIdleness(liveGroups, nextMemory);
    const sweep = { snapshot, memory: nextMemory, reaping, orphaned, live, keep: Math.min(settings.emergencyFloor, cap) };
    const { decisions, unresolved } = emergencySweep(measures, sweep);
    return { decisions, memory: nextMemory, emergency, unresolved };
  }

  const decisions: Decision[] = [];
  for (const group of orphaned) {
    const orphanedForMs = nowMs - nextMemory.get(group.sid)!.orphanedSinceMs!;
    if (orphanedForMs >= settings.orphanGraceMs) {
      decisions.push({
        group,
        reason: "orphaned",
        detail: `${group.orphanDetail}; orphaned for ${seconds(orphanedForMs)} >= grace ${seconds(settings.orphanGraceMs)}`,
      });
    }
  }

  // The cap and the budget are off by default: then nothing needs the live groups in order.
  if (cap === Infinity && settings.rssBudgetBytes <= 0) return { decisions, memory: nextMemory, emergency, unresolved: false };
  const live = byIdleness(liveGroups, nextMemory);
  const overCap = Math.max(0, live.length - cap);
  for (const group of live.slice(0, overCap)) {
    decisions.push({ group, reason: "over-cap", detail: `${live.length} live groups > cap ${cap}` });
  }

  if (settings.rssBudgetBytes > 0) {
    const kept = live.slice(overCap);
    let total = kept.reduce((sum, g) => sum + g.rssBytes, 0);
    for (const group of kept) {
      if (total <= settings.rssBudgetBytes) break;
      decisions.push({
        group,
        reason: "over-rss-budget",
        detail: `live groups hold ${mib(total)} > budget ${mib(settings.rssBudgetBytes)}`,
      });
      total -= group.rssBytes;
    }
  }
  return { decisions, memory: nextMemory, emergency, unresolved: false };
}

/** One measure an emergency watches: its value now, where it starts, where it ends, and what a group holds of it. */
interface Measure {
  value: number;
  threshold: number;
  release: number;
  of: (group: Group) => number;
  /** "62 tasks", "3174.4 MiB anonymous memory" for a value; "50", "3072.0 MiB" for a threshold. */
  text: (value: number) => string;
  limit: (value: number) => string;
}

/** Where an emergency measure ends once started: EMERGENCY_RELEASE_SHARE of its threshold. */
function releaseLevel(threshold: number): number {
  return Math.ceil(threshold * EMERGENCY_RELEASE_SHARE);
}

/**
 * The RSS sum from which the anonymous memory must be read (Infinity: never, the measure is off).
 * Anonymous memory is part of RSS, so while the RSS sum is below the release level the anonymous
 * sum is too, and cannot start or hold an emergency: normal scans skip the second read.
 */
export function anonymousMemoryGate(settings: Pick<PolicySettings, "emergencyAnonymousBytes">): number {
  return settings.emergencyAnonymousBytes > 0 ? releaseLevel(settings.emergencyAnonymousBytes) : Infinity;
}

function emergencyMeasures(snapshot: Snapshot, settings: PolicySettings): Measure[] {
  const measures: Measure[] = [];
  if (settings.emergencyTasks > 0) {
    const threshold = settings.emergencyTasks;
    measures.push({ value: snapshot.tasks, threshold, release: releaseLevel(threshold), of: (g) => g.tasks, text: (v) => `${v} tasks`, limit: String });
  }
  if (settings.emergencyAnonymousBytes > 0) {
    const threshold = settings.emergencyAnonymousBytes;
    // Unread, the anonymous figures are bounded by the RSS ones, which were below the gate (anonymousMemoryGate).
    measures.push({
      value: snapshot.anonymousBytes ?? snapshot.rssBytes,
      threshold,
      release: releaseLevel(threshold),
      of: (g) => g.anonymousBytes ?? g.rssBytes,
      text: (v) => `${mib(v)} anonymous memory`,
      limit: mib,
    });
  }
  return measures;
}

interface Sweep {
  snapshot: Snapshot;
  memory: PolicyMemory;
  reaping: ReadonlySet<number>;
  orphaned: Group[];
  live: Group[];
  /** Live MCP groups that must survive. */
  keep: number;
}

/** Orphans first, then the heaviest holders of what is in excess, until the rest is below the release level. */
function emergencySweep(measures: Measure[], { snapshot, memory, reaping, orphaned, live, keep }: Sweep): { decisions: Decision[]; unresolved: boolean } {
  const why = measures
    .filter((m) => m.value >= m.release)
    .map((m) =>
      m.value >= m.threshold
        ? `${m.text(m.value)} >= emergency threshold ${m.limit(m.threshold)}`
        : `${m.text(m.value)}, not yet below ${m.limit(m.release)} since the emergency threshold ${m.limit(m.threshold)}`,
    )
    .join(", ");
  // What is being reaped already will be gone soon: it does not call for another victim.
  const remaining = measures.map((m) => m.value);
  for (const g of [...snapshot.groups, ...snapshot.others]) {
    if (reaping.has(g.sid)) measures.forEach((m, i) => (remaining[i] -= m.of(g)));
  }
  const take = (g: Group) => measures.forEach((m, i) => (remaining[i] -= m.of(g)));
  const inExcess = () => measures.map((m, i) => remaining[i] >= m.release);

  const decisions: Decision[] = [];
  for (const group of orphaned) {
    decisions.push({ group, reason: "emergency", detail: `${why}; orphaned: ${group.orphanDetail}` });
    take(group);
  }

  const excess = inExcess();
  const weight = (g: Group) => measures.reduce((sum, m, i) => sum + (excess[i] ? m.of(g) / m.threshold : 0), 0);
  const others = snapshot.others.filter((g) => !reaping.has(g.sid));
  const candidates = byIdleness([...live, ...others], memory).map((group) => ({ group, weight: weight(group) }));
  let liveLeft = live.length;
  for (const { group } of heaviestIdlestFirst(candidates)) {
    const now = inExcess();
    if (!now.some(Boolean)) break;
    if (!measures.some((m, i) => now[i] && m.of(group) > 0)) continue;
    if (group.state === "live" && liveLeft <= keep) continue;
    decisions.push({
      group,
      reason: "emergency",
      detail: `${why}; ${group.state === "live" ? "live MCP group" : "not an MCP server"}, holds ${group.tasks} tasks and ${holding(group)}`,
    });
    take(group);
    if (group.state === "live") liveLeft--;
  }
  return { decisions, unresolved: inExcess().some(Boolean) };
}

/**
 * Carries the memory forward: new groups start now, CPU movement updates lastActive, gone groups are
 * forgotten. A group whose memory would not change keeps its object (memories are never mutated):
 * most groups are idle, and a fresh object per group per scan is garbage the small heap pays for.
 */
function remember(nowMs: number, groupLists: ReadonlyArray<readonly Group[]>, previous: PolicyMemory): PolicyMemory {
  // The same groups, none with news (the usual scan): the memory is the last one, not a copy of it.
  let count = 0;
  const unchanged = groupLists.every((groups) =>
    groups.every((group) => {
      count++;
      const before = previous.get(group.sid);
      return before !== undefined && sameGroup(before, group) && carriesOver(before, group);
    }),
  );
  if (unchanged && count === previous.size) return previous;

  const next = new Map<number, GroupMemory>();
  for (const groups of groupLists) {
    for (const group of groups) {
      const before = previous.get(group.sid);
      if (!before || !sameGroup(before, group)) {
        next.set(group.sid, {
          leaderStartTime: group.leader?.startTime,
          firstSeenMs: nowMs,
          orphanedSinceMs: group.state === "orphaned" ? nowMs : undefined,
          cpuTicks: group.cpuTicks,
          lastActiveMs: nowMs,
        });
        continue;
      }
      if (carriesOver(before, group)) {
        next.set(group.sid, before);
        continue;
      }
      const leaderStartTime = group.leader?.startTime ?? before.leaderStartTime;
      const orphanedSinceMs = group.state === "orphaned" ? (before.orphanedSinceMs ?? nowMs) : undefined;
      next.set(group.sid, {
        leaderStartTime,
        firstSeenMs: before.firstSeenMs,
        orphanedSinceMs,
        cpuTicks: group.cpuTicks,
        lastActiveMs: group.cpuTicks !== before.cpuTicks ? nowMs : before.lastActiveMs,
      });
    }
  }
  return next;
}

/** Nothing to note about the same group since `before`: its leader (if alive), its orphanhood and its CPU time are as they were. */
function carriesOver(before: GroupMemory, group: Group): boolean {
  return (
    (group.leader === undefined || group.leader.startTime === before.leaderStartTime) &&
    (group.state === "orphaned") === (before.orphanedSinceMs !== undefined) &&
    group.cpuTicks === before.cpuTicks
  );
}

/** A leader that exited cannot come back, and a live leader keeps its start time. */
function sameGroup(before: GroupMemory, group: Group): boolean {
  if (!group.leader) return true;
  return before.leaderStartTime === group.leader.startTime;
}

/**
 * The emergency's order over candidates given idlest first: each time, the idlest of those within
 * SIMILAR_WEIGHT of the heaviest left. A runaway stands alone at the top and goes first; like groups
 * go idlest first. Quadratic, but only in an emergency, which stops taking once it is over.
 */
function* heaviestIdlestFirst(candidates: { group: Group; weight: number }[]): Generator<{ group: Group; weight: number }> {
  const left = [...candidates];
  while (left.length > 0) {
    const heaviest = left.reduce((max, c) => Math.max(max, c.weight), 0);
    const index = left.findIndex((c) => c.weight >= heaviest * SIMILAR_WEIGHT);
    yield left.splice(index, 1)[0];
  }
}

/** Idlest first (longest without CPU), then oldest first. */
function byIdleness(groups: Group[], memory: PolicyMemory): Group[] {
  return [...groups].sort(
    (a, b) => memory.get(a.sid)!.lastActiveMs - memory.get(b.sid)!.lastActiveMs || a.startTime - b.startTime || a.sid - b.sid,
  );
}

function holding(group: Group): string {
  return group.anonymousBytes === undefined ? `${mib(group.rssBytes)} RSS` : `${mib(group.anonymousBytes)} anonymous memory (${mib(group.rssBytes)} RSS)`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
