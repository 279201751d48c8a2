/**
 * The reap policy: which MCP groups to kill this scan, and why. A pure function of the snapshot,
 * the settings, and what earlier scans remembered (when each group was first seen orphaned, its CPU
 * time, when that last moved). Everything the monitor does to processes starts from its output.
 *
 * Rules, in order:
 * 1. Emergency (tasks at or above the threshold): every orphaned group at once, then live groups,
 *    idlest first, down to the floor.
 * 2. Orphaned groups seen orphaned for at least the orphan grace. The grace lets a group that just
 *    received MetaMCP's SIGTERM finish exiting by itself.
 * 3. Live groups above the cap, idlest first, down to the cap.
 * 4. Live groups while their RSS total is above the budget, idlest first.
 *
 * Live groups are reaped only for 1, 3 and 4: MetaMCP counts a killed in-use server as a crash.
 * "Idlest" is the longest time without CPU use; between equals, the oldest goes first. A group seen
 * for the first time counts as just active, so a fresh session is the last to go.
 */
import type { McpGroup, Snapshot } from "./tree";

export type ReapReason = "orphaned" | "over-cap" | "over-rss-budget" | "emergency";
export const REAP_REASONS: readonly ReapReason[] = ["orphaned", "over-cap", "over-rss-budget", "emergency"];

export interface PolicySettings {
  orphanGraceMs: number;
  maxGroups: number;
  /** 0: no budget. */
  rssBudgetBytes: number;
  /** 0: no emergency. */
  emergencyTasks: number;
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
  group: McpGroup;
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
}

export interface PolicyOutput {
  decisions: Decision[];
  /** The memory to pass to the next scan. */
  memory: Map<number, GroupMemory>;
  emergency: boolean;
}

export function decide({ nowMs, snapshot, settings, memory, reaping }: PolicyInput): PolicyOutput {
  const nextMemory = remember(nowMs, snapshot.groups, memory);
  const candidates = snapshot.groups.filter((g) => !reaping.has(g.sid));
  const orphaned = candidates.filter((g) => g.state === "orphaned");
  const live = byIdleness(candidates.filter((g) => g.state === "live"), nextMemory);
  const decisions: Decision[] = [];

  const emergency = settings.emergencyTasks > 0 && snapshot.tasks >= settings.emergencyTasks;
  if (emergency) {
    const why = `${snapshot.tasks} tasks >= emergency threshold ${settings.emergencyTasks}`;
    for (const group of orphaned) decisions.push({ group, reason: "emergency", detail: `${why}; orphaned: ${group.orphanDetail}` });
    // The cap holds in an emergency too: a floor set above it keeps no more than the cap.
    const keep = Math.min(settings.emergencyFloor, settings.maxGroups);
    const excess = Math.max(0, live.length - keep);
    for (const group of live.slice(0, excess)) {
      decisions.push({ group, reason: "emergency", detail: `${why}; ${live.length} live groups > floor ${keep}` });
    }
    return { decisions, memory: nextMemory, emergency };
  }

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

  const overCap = Math.max(0, live.length - settings.maxGroups);
  for (const group of live.slice(0, overCap)) {
    decisions.push({ group, reason: "over-cap", detail: `${live.length} live groups > cap ${settings.maxGroups}` });
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
  return { decisions, memory: nextMemory, emergency };
}

/** Carries the memory forward: new groups start now, CPU movement updates lastActive, gone groups are forgotten. */
function remember(nowMs: number, groups: readonly McpGroup[], previous: PolicyMemory): Map<number, GroupMemory> {
  const next = new Map<number, GroupMemory>();
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
    next.set(group.sid, {
      leaderStartTime: group.leader?.startTime ?? before.leaderStartTime,
      firstSeenMs: before.firstSeenMs,
      orphanedSinceMs: group.state === "orphaned" ? (before.orphanedSinceMs ?? nowMs) : undefined,
      cpuTicks: group.cpuTicks,
      lastActiveMs: group.cpuTicks !== before.cpuTicks ? nowMs : before.lastActiveMs,
    });
  }
  return next;
}

/** A leader that exited cannot come back, and a live leader keeps its start time. */
function sameGroup(before: GroupMemory, group: McpGroup): boolean {
  if (!group.leader) return true;
  return before.leaderStartTime === group.leader.startTime;
}

/** Idlest first (longest without CPU), then oldest first. */
function byIdleness(groups: McpGroup[], memory: PolicyMemory): McpGroup[] {
  return [...groups].sort(
    (a, b) => memory.get(a.sid)!.lastActiveMs - memory.get(b.sid)!.lastActiveMs || a.startTime - b.startTime || a.sid - b.sid,
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
