/**
 * From a process table to what the policy reasons about: groups of processes (MCP servers, live
 * or orphaned, and everything else that is not protected), the main server, and zombies. Pure:
 * what it must remember between scans goes out in the snapshot's `memory` and comes back in.
 *
 * A group starts from a session. MetaMCP spawns every MCP server detached, so its leader starts a
 * session and a process group of its own (SID = PGID = leader pid) and everything it starts stays
 * in that session, unless it starts a session of its own too (`setsid`, as browsers are launched).
 * So a session is followed up its ancestry: a session whose leader descends from another
 * unprotected session belongs to that session's group, and is reaped with it ("by descent").
 * A process that escaped before the monitor saw its parent (a double fork: it is PID 1's child
 * from the start) is matched by its start time: if it started during the life of an MCP group that
 * was orphaned or has ended, and now sits under PID 1 in a session of its own, it belongs to that
 * group ("by start time").
 *
 * A group is an MCP group when a member matches an MCP pattern, or when its leader is a child of
 * the main server (MetaMCP spawns nothing else detached). Protected, never a group: PID 1's
 * session, the main server's, the monitor's, and sessions entered from outside the namespace.
 */
import { locateMainServer, type ProcessIdentity } from "./mainServer";
import type { CommandMatcher } from "./patterns";
import { CLOCK_TICKS_PER_SECOND, type ProcessInfo, type ProcessTable } from "./proc/reader";
import { redactCommandLine } from "./redact";

export interface ClassifyOptions {
  matcher: CommandMatcher;
  /** The monitor's own pid, as seen in the namespace it scans. */
  selfPid: number;
}

export type OrphanReason = "leader-gone" | "reparented" | "escaped";

/** live and orphaned: MCP groups; other: an unprotected group matching no pattern (touched only in an emergency). */
export type GroupState = "live" | "orphaned" | "other";

export interface Group {
  /** The group's first session: its id is the group's key, and the leader's pid. */
  sid: number;
  /** Every session of the group: the first, then those that joined it by descent or start time. */
  sessions: number[];
  /** The process groups of its sessions; normally just [sid]. */
  pgids: number[];
  /** Live (non-zombie) members; only these can be signalled and hold memory. The reader rewrites these objects next scan. */
  members: ProcessInfo[];
  /** The first session's leader if it is alive (not a zombie). */
  leader: ProcessInfo | undefined;
  /** The command line that names the group, secrets redacted: the leader's, else the first member matching an MCP pattern, else the oldest member's. */
  cmdline: string;
  /** Seconds since the oldest member started. */
  ageSeconds: number;
  /** Start time (ticks after boot) of the oldest member; older groups go first when all else is equal. */
  startTime: number;
  rssBytes: number;
  /** Its members' anonymous memory (RssAnon) summed; undefined on scans that did not read it (see Snapshot). */
  anonymousBytes: number | undefined;
  /** Threads of its members plus its zombies: what it holds of a pids limit. */
  tasks: number;
  cpuTicks: number;
  state: GroupState;
  orphanReason?: OrphanReason;
  /** Why it is orphaned, in words (secrets redacted), for the audit log. */
  orphanDetail?: string;
}

export interface Zombie {
  pid: number;
  ppid: number;
  comm: string;
  /** Command line (secrets redacted) of the parent that has not collected it; only it (or PID 1 after it exits) can. */
  parentCmdline: string;
}

/** The life of an MCP group, kept a while after it ends, to recognise what escaped it. */
export interface GroupWindow {
  sid: number;
  /** Ticks after boot: the group's oldest member's start, and when it was last seen. */
  startTime: number;
  lastSeen: number;
  /** Present (and orphaned) at the last scan; false once the group has ended. */
  present: boolean;
  /** What the group was when last seen. */
  state: "live" | "orphaned";
  /** Redacted, for the audit log. */
  cmdline: string;
}

/** What classify remembers between scans. */
export interface TreeMemory {
  /** The main server an earlier scan found, followed while it lives. */
  mainServer?: ProcessIdentity;
  /** The last scan's MCP groups: a group missing now ended after that scan. */
  lastScan: LastScan;
  /** The lives of MCP groups orphaned now or ended lately, to recognise what escaped them. */
  windows: readonly GroupWindow[];
}

/**
 * The last scan's MCP groups, in typed arrays rather than the groups themselves: kept from one scan
 * to the next, objects would be promoted to the old generation every scan (memory the monitor's
 * small heap would hold until its next full collection); a few arrays cost next to nothing.
 */
export interface LastScan {
  /** When it ran, in ticks after boot. */
  ticks: number;
  sids: Float64Array;
  startTimes: Float64Array;
  /** 1 for a live group, 0 for an orphaned one. */
  live: Uint8Array;
  /** Redacted command lines (strings the groups share with the shown-command-line memo). */
  cmdlines: readonly string[];
}

const NO_LAST_SCAN: LastScan = { ticks: 0, sids: new Float64Array(0), startTimes: new Float64Array(0), live: new Uint8Array(0), cmdlines: [] };

export const EMPTY_TREE_MEMORY: TreeMemory = { lastScan: NO_LAST_SCAN, windows: [] };

function lastScanOf(groups: readonly Group[], ticks: number): LastScan {
  const scan: LastScan = {
    ticks,
    sids: new Float64Array(groups.length),
    startTimes: new Float64Array(groups.length),
    live: new Uint8Array(groups.length),
    cmdlines: groups.map((g) => g.cmdline),
  };
  groups.forEach((g, i) => {
    scan.sids[i] = g.sid;
    scan.startTimes[i] = g.startTime;
    scan.live[i] = g.state === "live" ? 1 : 0;
  });
  return scan;
}

/** Ended groups' windows are kept this long (uptime), and at most this many, newest first. */
export const WINDOW_KEEP_SECONDS = 600;
export const MAX_ENDED_WINDOWS = 256;

export interface Snapshot {
  processes: number;
  /** Processes plus threads, the monitor's own excepted: what the target container's pids limit counts. */
  tasks: number;
  /**
   * Resident memory of every process, the monitor's own excepted (it is charged to its own
   * container). Pages shared between processes (the node binary's, ~45 MiB per Node process) count
   * once per process here, so this is well above what the memory cgroup charges.
   */
  rssBytes: number;
  /**
   * Resident anonymous memory (RssAnon) of every process, the monitor's own excepted: what the
   * memory cgroup must keep charged, with no swap, and what the emergency's memory measure watches.
   * Undefined when the reader did not read it this scan: it does so only once the RSS sum (which
   * is never below it) reaches the level where it matters.
   */
  anonymousBytes: number | undefined;
  /** The main server (MetaMCP's backend), found by structure; undefined when there is none. */
  mainPid: number | undefined;
  /** Every live process whose command line matches the main pattern: more than one means impostors. */
  mainPatternPids: number[];
  /** Sessions that are never touched: PID 1's, the main server's, the monitor's, and those entered from outside. */
  protectedSessions: number[];
  /** MCP groups, live and orphaned. */
  groups: Group[];
  /** Unprotected groups that are not MCP servers: candidates in an emergency only. */
  others: Group[];
  zombies: Zombie[];
  uptimeSeconds: number;
  /** Pass to the next classify. */
  memory: TreeMemory;
}

/**
 * The redacted text of each process's command line, remembered per process object (the reader
 * hands out the same object scan after scan, and drops it when the process exits, which drops this
 * entry too): a group's name is needed every scan, redacting it only when the command line changes.
 */
const shownByProcess = new WeakMap<ProcessInfo, { raw: string; truncated: boolean; shown: string }>();

/** A command line as it may be shown: redacted, its cut-off tail dropped. */
export function shownCommandLine(process: ProcessInfo): string {
  const known = shownByProcess.get(process);
  if (known && known.raw === process.cmdline && known.truncated === process.cmdlineTruncated) return known.shown;
  const shown = redactCommandLine(process.cmdline, process.cmdlineTruncated);
  shownByProcess.set(process, { raw: process.cmdline, truncated: process.cmdlineTruncated, shown });
  return shown;
}

/** Builds the snapshot the policy decides on. Runs every scan over every process: a few linear passes. */
export function classify(table: ProcessTable, options: ClassifyOptions, memory: TreeMemory = EMPTY_TREE_MEMORY): Snapshot {
  const { matcher } = options;
  const isMcp = (p: ProcessInfo) => !p.cmdlinePending && matcher.isMcp(p.cmdline);
  const isMain = (p: ProcessInfo) => !p.cmdlinePending && matcher.isMain(p.cmdline);
  const nowTicks = Math.round(table.uptimeSeconds * CLOCK_TICKS_PER_SECOND);

  const { byPid } = table;
  const sessions = new Map<number, ProcessInfo[]>();
  const mainPatternPids: number[] = [];
  const zombieProcesses: ProcessInfo[] = [];
  const anonymous = table.anonymousRead;
  let rssBytes = 0;
  let anonymousBytes = 0;
  let tasks = 0;
  for (const process of table.processes) {
    rssBytes += process.rssBytes;
    if (anonymous) anonymousBytes += process.anonymousBytes;
    tasks += Math.max(process.threads, 1);
    if (process.state === "Z") zombieProcesses.push(process);
    else if (isMain(process)) mainPatternPids.push(process.pid);
    const members = sessions.get(process.sid);
    if (members) members.push(process);
    else sessions.set(process.sid, [process]);
  }
  // The monitor shares the namespace but not the cgroup: its threads and memory do not count
  // against the target's limits, so they are left out of what the emergency thresholds see.
  const selfSid = byPid.get(options.selfPid)?.sid;
  for (const process of selfSid === undefined ? [] : sessions.get(selfSid)!) {
    tasks -= Math.max(process.threads, 1);
    rssBytes -= process.rssBytes;
    if (anonymous) anonymousBytes -= process.anonymousBytes;
  }

  const pid1 = byPid.get(1);
  const main = locateMainServer({
    byPid,
    pid1Session: pid1 ? (sessions.get(pid1.sid) ?? []) : [],
    matches: isMain,
    previous: memory.mainServer,
  });

  const protectedSessions = new Set<number>([0]); // session 0 lies outside the namespace: `docker exec`
  for (const pid of [1, options.selfPid, main?.pid]) {
    const process = pid === undefined ? undefined : byPid.get(pid);
    if (process) protectedSessions.add(process.sid);
  }
  for (const sid of sessions.keys()) {
    // A leader whose parent is 0 was entered from outside (docker exec with a tty, or the monitor's own container).
    if (byPid.get(sid)?.ppid === 0) protectedSessions.add(sid);
  }

  // Each unprotected session joins the group of the topmost unprotected session it descends from.
  // Most sessions hang straight from a protected one (MetaMCP's servers from the backend): they are
  // their own root, and cost no more than one lookup here.
  const parentSessionOf = (sid: number): number | undefined => {
    const parentSid = byPid.get(entryOf(sessions.get(sid)!, sid).ppid)?.sid;
    return parentSid === undefined || parentSid === sid || protectedSessions.has(parentSid) ? undefined : parentSid;
  };
  const rootOf = new Map<number, number>();
  const findRoot = (sid: number): number => {
    const trail = new Set([sid]); // a Set: a hostile chain of nested sessions must not cost its length squared
    let root = sid;
    for (let parent = parentSessionOf(sid); parent !== undefined && !trail.has(parent); parent = parentSessionOf(parent)) {
      const known = rootOf.get(parent);
      if (known !== undefined) {
        root = known;
        break;
      }
      trail.add(parent);
      root = parent;
    }
    for (const s of trail) rootOf.set(s, root);
    return root;
  };
  const attached = new Map<number, number[]>(); // root → sessions that descend from it
  const roots: number[] = [];
  for (const sid of sessions.keys()) {
    if (protectedSessions.has(sid)) continue;
    const root = parentSessionOf(sid) === undefined ? sid : findRoot(sid);
    if (root === sid) {
      roots.push(sid);
      continue;
    }
    const list = attached.get(root);
    if (list) list.push(sid);
    else attached.set(root, [sid]);
  }

  const groups: Group[] = [];
  const others: Group[] = [];
  for (const root of roots) {
    const group = buildGroup(root, attached.get(root), sessions, isMcp, main?.pid, anonymous);
    if (!group) continue; // nothing but zombies: nothing to signal
    group.ageSeconds = Math.max(0, table.uptimeSeconds - group.startTime / CLOCK_TICKS_PER_SECOND);
    if (group.state === "other") {
      others.push(group);
      continue;
    }
    const orphan = orphanhood(group.leader, root, byPid, main);
    if (orphan) {
      group.state = "orphaned";
      group.orphanReason = orphan.reason;
      group.orphanDetail = orphan.detail;
    }
    groups.push(group);
  }

  const bySid = new Map<number, Group>();
  for (const group of groups) bySid.set(group.sid, group);
  const windows = nextWindows(memory, bySid, nowTicks);
  const stillOthers: Group[] = [];
  for (const other of others) {
    const underPid1 = entryOf(sessions.get(other.sid)!, other.sid).ppid === 1;
    const window = underPid1 ? escapedFrom(other, windows) : undefined;
    if (!window) {
      stillOthers.push(other);
      continue;
    }
    const group = window.present ? bySid.get(window.sid) : undefined;
    if (group) {
      merge(group, other);
    } else {
      other.state = "orphaned";
      other.orphanReason = "escaped";
      other.orphanDetail = `started while MCP group ${window.sid} (${window.cmdline}) ran, and left under PID 1 when it ${window.present ? "was orphaned" : "ended"}`;
      groups.push(other);
    }
  }

  return {
    processes: table.processes.length,
    tasks,
    rssBytes,
    anonymousBytes: anonymous ? anonymousBytes : undefined,
    mainPid: main?.pid,
    mainPatternPids,
    protectedSessions: [...protectedSessions].sort((a, b) => a - b),
    groups,
    others: stillOthers,
    zombies: zombieProcesses.map((p) => {
      const parent = byPid.get(p.ppid);
      return { pid: p.pid, ppid: p.ppid, comm: p.comm, parentCmdline: parent ? shownCommandLine(parent) : "" };
    }),
    uptimeSeconds: table.uptimeSeconds,
    memory: { mainServer: main && { pid: main.pid, startTime: main.startTime }, lastScan: lastScanOf(groups, nowTicks), windows },
  };
}

/** The process whose parent a session hangs from: its leader while alive, else its oldest live member, else any. */
function entryOf(processes: readonly ProcessInfo[], sid: number): ProcessInfo {
  let oldest: ProcessInfo | undefined;
  for (const p of processes) {
    if (p.pid === sid && p.state !== "Z") return p;
    if (p.state !== "Z" && (!oldest || older(p, oldest))) oldest = p;
  }
  return oldest ?? processes[0];
}

/**
 * The group of a root session and the sessions that descend from it, as "live" or "other" (orphanhood
 * is settled by the caller); undefined when none of them has a live member. A leader that is the
 * main server's child makes an MCP group without a pattern's help, and with no pattern matched at all.
 */
function buildGroup(
  root: number,
  attached: readonly number[] | undefined,
  sessions: ReadonlyMap<number, ProcessInfo[]>,
  isMcp: (p: ProcessInfo) => boolean,
  mainPid: number | undefined,
  anonymous: boolean,
): Group | undefined {
  const sessionIds = attached ? [root, ...attached] : [root];
  let leader: ProcessInfo | undefined;
  let oldest: ProcessInfo | undefined;
  let pgids: number[] | undefined;
  let zombies = 0;
  let tasks = 0;
  let rssBytes = 0;
  let anonymousBytes = 0;
  let cpuTicks = 0;
  for (const sid of sessionIds) {
    for (const process of sessions.get(sid)!) {
      tasks += Math.max(process.threads, 1);
      if (process.state === "Z") {
        zombies++;
        continue;
      }
      if (process.pid === root) leader = process;
      if (!oldest || older(process, oldest)) oldest = process;
      rssBytes += process.rssBytes;
      anonymousBytes += process.anonymousBytes; // meaningful only when the scan read it
      cpuTicks += process.cpuTicks;
      if (!pgids) pgids = [process.pgid]; // sized for the usual one
      else if (!pgids.includes(process.pgid)) pgids.push(process.pgid);
    }
  }
  if (!oldest || !pgids) return undefined;
  if (pgids.length > 1) pgids.sort((a, b) => a - b);
  // Most groups are one session with no zombie: its list (made this scan) is the members list.
  const members: ProcessInfo[] =
    attached === undefined && zombies === 0 ? sessions.get(root)! : sessionIds.flatMap((sid) => sessions.get(sid)!.filter((p) => p.state !== "Z"));
  const structural = leader !== undefined && mainPid !== undefined && leader.ppid === mainPid;
  const matching = leader && structural ? undefined : members.find(isMcp);
  return {
    sid: root,
    sessions: sessionIds,
    pgids,
    members,
    leader,
    cmdline: shownCommandLine(leader ?? matching ?? oldest),
    ageSeconds: 0,
    startTime: oldest.startTime,
    rssBytes,
    anonymousBytes: anonymous ? anonymousBytes : undefined,
    tasks,
    cpuTicks,
    state: structural || matching ? "live" : "other",
    orphanReason: undefined,
    orphanDetail: undefined,
  };
}

/** Started before, or at the same tick with a lower pid: "oldest" is the same whatever order processes come in. */
function older(a: ProcessInfo, b: ProcessInfo): boolean {
  return a.startTime < b.startTime || (a.startTime === b.startTime && a.pid < b.pid);
}

function merge(into: Group, other: Group): void {
  into.sessions.push(...other.sessions);
  into.members = [...into.members, ...other.members]; // a new list: it may be a session's own (buildGroup)
  for (const pgid of other.pgids) if (!into.pgids.includes(pgid)) into.pgids.push(pgid);
  into.pgids.sort((a, b) => a - b);
  into.rssBytes += other.rssBytes;
  if (into.anonymousBytes !== undefined) into.anonymousBytes += other.anonymousBytes ?? 0;
  into.tasks += other.tasks;
  into.cpuTicks += other.cpuTicks;
}

/**
 * The windows to match escapes against: every MCP group orphaned now (open: last seen now), and
 * every one that ended within WINDOW_KEEP_SECONDS, orphaned or live (the newest MAX_ENDED_WINDOWS).
 * Live groups get no window while they live: the last scan's groups are kept instead, and one that
 * is missing now gets its window then, ending at that scan.
 */
function nextWindows(memory: TreeMemory, current: ReadonlyMap<number, Group>, nowTicks: number): GroupWindow[] {
  // The same group (its session id cannot be reused while it was seen then), its oldest member now
  // being at least as young as the start remembered (the leader may have exited since).
  const continues = (sid: number, startTime: number, lastSeen: number) => {
    const group = current.get(sid);
    return group !== undefined && startTime <= group.startTime && group.startTime <= lastSeen;
  };
  const open: GroupWindow[] = [];
  const ended: GroupWindow[] = [];
  const windowed = new Set<number>();
  for (const w of memory.windows) {
    if (w.present && continues(w.sid, w.startTime, w.lastSeen)) {
      const group = current.get(w.sid)!;
      if (group.state !== "orphaned") continue; // live again (the main server found once more): no window
      open.push({ ...w, lastSeen: nowTicks });
      windowed.add(w.sid);
    } else {
      ended.push(w.present ? { ...w, present: false } : w);
    }
  }
  const last = memory.lastScan;
  let lastStartBySid: Map<number, number> | undefined;
  for (const group of current.values()) {
    if (group.state !== "orphaned" || windowed.has(group.sid)) continue;
    // Newly orphaned: its window starts when the group did, which the last scan may have known better.
    lastStartBySid ??= new Map(Array.from(last.sids, (sid, i) => [sid, last.startTimes[i]]));
    const before = lastStartBySid.get(group.sid);
    const startTime = before !== undefined && before <= group.startTime ? before : group.startTime;
    open.push({ sid: group.sid, startTime, lastSeen: nowTicks, present: true, state: "orphaned", cmdline: group.cmdline });
  }
  for (let i = 0; i < last.sids.length; i++) {
    if (!last.live[i] || continues(last.sids[i], last.startTimes[i], last.ticks)) continue;
    ended.push({ sid: last.sids[i], startTime: last.startTimes[i], lastSeen: last.ticks, present: false, state: "live", cmdline: last.cmdlines[i] });
  }
  const keepTicks = WINDOW_KEEP_SECONDS * CLOCK_TICKS_PER_SECOND;
  const kept = ended
    .filter((w) => nowTicks - w.lastSeen <= keepTicks)
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .slice(0, MAX_ENDED_WINDOWS);
  return [...open, ...kept];
}

/**
 * The MCP group a group under PID 1 escaped from: one that was orphaned or has ended, during whose
 * life it started (the latest such group to start). Live groups are never matched: a live
 * server's helper is still its child, and descent finds it.
 */
function escapedFrom(group: Group, windows: readonly GroupWindow[]): GroupWindow | undefined {
  let found: GroupWindow | undefined;
  for (const w of windows) {
    if (w.present && w.state === "live") continue;
    if (w.startTime <= group.startTime && group.startTime <= w.lastSeen && (!found || w.startTime > found.startTime)) found = w;
  }
  return found;
}

/**
 * Why a group no longer belongs to the server, or undefined while it does. A group whose leader
 * is gone (or a zombie) has lost the process MetaMCP talks to. A group whose leader no longer
 * descends from the server was re-parented when its parent exited. That second test needs a server
 * to descend from: with none found (starting up, or a main pattern that matches nothing) it is
 * skipped, so a wrong pattern cannot make every live server look orphaned.
 */
function orphanhood(
  leader: ProcessInfo | undefined,
  sid: number,
  byPid: ReadonlyMap<number, ProcessInfo>,
  main: ProcessInfo | undefined,
): { reason: OrphanReason; detail: string } | undefined {
  if (!leader) {
    const zombie = byPid.get(sid);
    return { reason: "leader-gone", detail: zombie ? `leader ${sid} is a zombie` : `leader ${sid} has exited` };
  }
  if (!main) return undefined;
  if (leader.ppid === main.pid) return undefined; // how MetaMCP starts every server: no walk needed
  const seen = new Set<number>();
  for (let pid = leader.ppid; pid > 0 && !seen.has(pid); pid = byPid.get(pid)?.ppid ?? 0) {
    if (pid === main.pid) return undefined;
    seen.add(pid);
  }
  const parent = byPid.get(leader.ppid);
  return {
    reason: "reparented",
    detail: `leader's parent is ${leader.ppid}${parent ? ` (${shownCommandLine(parent)})` : ""}, not the server`,
  };
}
