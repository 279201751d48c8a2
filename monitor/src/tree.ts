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
  mcpPatterns: readonly RegExp[];
  mainPattern: RegExp;
  /** The monitor's own pid, as seen in the namespace it scans. */
  selfPid: number;
}

export type OrphanReason = "leader-gone" | "reparented";

export interface McpGroup {
  /** Session id, which is also the leader's pid and the group's key. */
  sid: number;
  /** The process groups in the session; normally just [sid]. */
  pgids: number[];
  /** Live (non-zombie) members; only these can be signalled and hold memory. */
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

/** Builds the snapshot the policy decides on. */
export function classify(table: ProcessTable, options: ClassifyOptions): Snapshot {
  const byPid = new Map<number, ProcessInfo>();
  const sessions = new Map<number, ProcessInfo[]>();
  let rssBytes = 0;
  for (const process of table.processes) {
    byPid.set(process.pid, process);
    rssBytes += process.rssBytes;
    const members = sessions.get(process.sid);
    if (members) members.push(process);
    else sessions.set(process.sid, [process]);
  }
  // The monitor shares the namespace but not the cgroup: its threads do not count against the
  // target's pids limit, so they are left out of the tasks the emergency threshold is compared with.
  const selfSid = byPid.get(options.selfPid)?.sid;
  let tasks = 0;
  for (const process of table.processes) {
    if (process.sid !== selfSid) tasks += Math.max(process.threads, 1);
  }

  const mainPids = table.processes.filter((p) => p.state !== "Z" && options.mainPattern.test(p.cmdline)).map((p) => p.pid);
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
    const members = processes.filter((p) => p.state !== "Z");
    const matching = members.find((p) => options.mcpPatterns.some((pattern) => pattern.test(p.cmdline)));
    if (!matching) continue;
    const leader = members.find((p) => p.pid === sid);
    const oldest = members.reduce((a, b) => (b.startTime < a.startTime ? b : a));
    const orphan = orphanhood(leader, sid, byPid, mainSet);
    groups.push({
      sid,
      pgids: [...new Set(members.map((p) => p.pgid))].sort((a, b) => a - b),
      members,
      leader,
      cmdline: leader?.cmdline ?? matching.cmdline,
      ageSeconds: Math.max(0, table.uptimeSeconds - oldest.startTime / CLOCK_TICKS_PER_SECOND),
      startTime: oldest.startTime,
      rssBytes: members.reduce((sum, p) => sum + p.rssBytes, 0),
      cpuTicks: members.reduce((sum, p) => sum + p.cpuTicks, 0),
      ...(orphan ? { state: "orphaned", orphanReason: orphan.reason, orphanDetail: orphan.detail } : { state: "live" }),
    });
  }

  const zombies = table.processes
    .filter((p) => p.state === "Z")
    .map((p) => ({ pid: p.pid, ppid: p.ppid, comm: p.comm, parentCmdline: byPid.get(p.ppid)?.cmdline ?? "" }));

  return {
    processes: table.processes.length,
    tasks,
    rssBytes,
    mainPids,
    protectedSessions: [...protectedSessions].sort((a, b) => a - b),
    groups,
    zombies,
    uptimeSeconds: table.uptimeSeconds,
  };
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
