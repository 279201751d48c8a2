/**
 * From a process table to what the policy reasons about: MCP groups (live or orphaned), the
 * protected processes, and zombies. Pure.
 *
 * A group is a session. MetaMCP spawns every MCP server detached, so its leader starts a session
 * and a process group of its own (SID = PGID = leader pid) and everything it starts stays in that
 * session. Grouping by session rather than by process group also catches a child that made a
 * process group of its own, which MetaMCP's single `kill(-pgid)` would miss.
 */
import { CLOCK_TICKS_PER_SECOND, type ProcessInfo, type ProcessTable } from "./proc/reader";

export interface ClassifyOptions {
  matcher: CommandMatcher;
  /** The monitor's own pid, as seen in the namespace it scans. */
  selfPid: number;
}

export type OrphanReason = "leader-gone" | "reparented";

export interface McpGroup {
  /** Session id, which is also the leader's pid and the group's key. */
  sid: number;
  /** The process groups in the session; normally just [sid]. */
  pgids: number[];
  /** Live (non-zombie) members; only these can be signalled and hold memory. The reader rewrites these objects next scan. */
  members: ProcessInfo[];
  /** The leader if it is alive (not a zombie). */
  leader: ProcessInfo | undefined;
  /** The command line that names the group: the leader's, or the first member matching an MCP pattern. */
  cmdline: string;
  /** Seconds since the oldest member started. */
  ageSeconds: number;
  /** Start time (ticks after boot) of the oldest member; older groups go first when all else is equal. */
  startTime: number;
  rssBytes: number;
  cpuTicks: number;
  state: "live" | "orphaned";
  orphanReason?: OrphanReason;
  /** Why it is orphaned, in words, for the audit log. */
  orphanDetail?: string;
}

export interface Zombie {
  pid: number;
  ppid: number;
  comm: string;
  /** Command line of the parent that has not collected it; only it (or PID 1 after it exits) can. */
  parentCmdline: string;
}

export interface Snapshot {
  processes: number;
  /** Processes plus threads, the monitor's own excepted: what the target container's pids limit counts. */
  tasks: number;
  rssBytes: number;
  /** Pids of processes matching the main-server pattern. */
  mainPids: number[];
  /** Sessions that are never touched: PID 1's, the main server's, the monitor's, and those entered from outside. */
  protectedSessions: number[];
  groups: McpGroup[];
  zombies: Zombie[];
  uptimeSeconds: number;
}

/** Builds the snapshot the policy decides on. Runs every scan over every process: one pass to index, one per session. */
export function classify(table: ProcessTable, options: ClassifyOptions): Snapshot {
  const { matcher } = options;
  const byPid = new Map<number, ProcessInfo>();
  const sessions = new Map<number, ProcessInfo[]>();
  const mainPids: number[] = [];
  const zombieProcesses: ProcessInfo[] = [];
  let rssBytes = 0;
  let tasks = 0;
  for (const process of table.processes) {
    byPid.set(process.pid, process);
    rssBytes += process.rssBytes;
    tasks += Math.max(process.threads, 1);
    if (process.state === "Z") zombieProcesses.push(process);
    else if (matcher.kind(process.cmdline) === "main") mainPids.push(process.pid);
    const members = sessions.get(process.sid);
    if (members) members.push(process);
    else sessions.set(process.sid, [process]);
  }
  // The monitor shares the namespace but not the cgroup: its threads do not count against the
  // target's pids limit, so they are left out of the tasks the emergency threshold is compared with.
  const selfSid = byPid.get(options.selfPid)?.sid;
  for (const process of selfSid === undefined ? [] : sessions.get(selfSid)!) tasks -= Math.max(process.threads, 1);

  const mainSet = new Set(mainPids);
  const protectedSessions = new Set<number>();
  const protect = (pid: number) => {
    const process = byPid.get(pid);
    if (process) protectedSessions.add(process.sid);
  };
  protect(1);
  protect(options.selfPid);
  for (const pid of mainPids) protect(pid);
  // Session 0 lies outside this namespace: processes `docker exec` started. So does a leader whose
  // parent is 0: it was entered from outside (docker exec with a tty, or the monitor's own container).
  protectedSessions.add(0);
  for (const sid of sessions.keys()) {
    const leader = byPid.get(sid);
    if (leader && leader.ppid === 0) protectedSessions.add(sid);
  }

  const groups: McpGroup[] = [];
  for (const [sid, processes] of sessions) {
    if (protectedSessions.has(sid)) continue;
    const group = sessionGroup(sid, processes, matcher);
    if (!group) continue;
    group.ageSeconds = Math.max(0, table.uptimeSeconds - group.startTime / CLOCK_TICKS_PER_SECOND);
    const orphan = orphanhood(group.leader, sid, byPid, mainSet);
    if (orphan) {
      group.state = "orphaned";
      group.orphanReason = orphan.reason;
      group.orphanDetail = orphan.detail;
    }
    groups.push(group);
  }

  return {
    processes: table.processes.length,
    tasks,
    rssBytes,
    mainPids,
    protectedSessions: [...protectedSessions].sort((a, b) => a - b),
    groups,
    zombies: zombieProcesses.map((p) => ({ pid: p.pid, ppid: p.ppid, comm: p.comm, parentCmdline: byPid.get(p.ppid)?.cmdline ?? "" })),
    uptimeSeconds: table.uptimeSeconds,
  };
}

/** The session as a live MCP group (classify settles age and orphanhood), or undefined when no member is an MCP server. */
function sessionGroup(sid: number, processes: ProcessInfo[], matcher: CommandMatcher): McpGroup | undefined {
  const members: ProcessInfo[] = [];
  let matching: ProcessInfo | undefined;
  let leader: ProcessInfo | undefined;
  let oldest: ProcessInfo | undefined;
  let rssBytes = 0;
  let cpuTicks = 0;
  let pgids: number[] | undefined;
  for (const process of processes) {
    if (process.state === "Z") continue;
    members.push(process);
    if (!matching && matcher.kind(process.cmdline) === "mcp") matching = process;
    if (process.pid === sid) leader = process;
    if (!oldest || process.startTime < oldest.startTime) oldest = process;
    rssBytes += process.rssBytes;
    cpuTicks += process.cpuTicks;
    if (!pgids) pgids = [process.pgid];
    else if (!pgids.includes(process.pgid)) pgids.push(process.pgid);
  }
  if (!matching || !oldest || !pgids) return undefined;
  return {
    sid,
    pgids: pgids.sort((a, b) => a - b),
    members,
    leader,
    cmdline: leader?.cmdline ?? matching.cmdline,
    ageSeconds: 0,
    startTime: oldest.startTime,
    rssBytes,
    cpuTicks,
    state: "live",
  };
}

export type CommandKind = "main" | "mcp" | "other";

/** Above this many distinct command lines the cache starts over, so churn cannot grow it without bound. */
const MAX_CACHED_COMMANDS = 50_000;

/**
 * Which patterns a command line matches, remembered per command line: a process's command line is
 * fixed, and testing every pattern against every process every scan was a good part of a scan.
 * The main-server pattern wins over the MCP ones.
 */
export class CommandMatcher {
  private readonly cache = new Map<string, CommandKind>();

  constructor(
    readonly mcpPatterns: readonly RegExp[],
    readonly mainPattern: RegExp,
  ) {}

  kind(cmdline: string): CommandKind {
    let kind = this.cache.get(cmdline);
    if (kind === undefined) {
      kind = this.mainPattern.test(cmdline) ? "main" : this.mcpPatterns.some((p) => p.test(cmdline)) ? "mcp" : "other";
      if (this.cache.size >= MAX_CACHED_COMMANDS) this.cache.clear();
      this.cache.set(cmdline, kind);
    }
    return kind;
  }
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
  mainPids: ReadonlySet<number>,
): { reason: OrphanReason; detail: string } | undefined {
  if (!leader) {
    const zombie = byPid.get(sid);
    return { reason: "leader-gone", detail: zombie ? `leader ${sid} is a zombie` : `leader ${sid} has exited` };
  }
  if (mainPids.size === 0) return undefined;
  const seen = new Set<number>();
  for (let pid = leader.ppid; pid > 0 && !seen.has(pid); pid = byPid.get(pid)?.ppid ?? 0) {
    if (mainPids.has(pid)) return undefined;
    seen.add(pid);
  }
  const parent = byPid.get(leader.ppid);
  return {
    reason: "reparented",
    detail: `leader's parent is ${leader.ppid}${parent ? ` (${parent.cmdline})` : ""}, not the server`,
  };
}
