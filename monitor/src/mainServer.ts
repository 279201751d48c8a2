/**
 * Which process is MetaMCP's backend, by structure rather than by command line: `node dist/index.js`
 * is also how self-built MCP servers run, and a server taken for the backend would shield its
 * session and everything below it. Pure.
 *
 * MetaMCP's image runs `docker-entrypoint.sh`, which starts the backend in the background and then
 * the frontend; with `init: true` Docker's init (tini) is PID 1 and the entrypoint its child.
 * So the backend is the process nearest to the entrypoint, within PID 1's session, that matches
 * the main pattern:
 *
 *     docker-init (PID 1) → /bin/sh ./docker-entrypoint.sh → node dist/index.js   (all in session 1)
 *
 * Without an init the entrypoint is PID 1 itself; an image whose entrypoint is the backend makes
 * it the entrypoint. MCP servers run in sessions of their own (MetaMCP spawns them detached), so
 * none of them can be found this way. Once found, the same process (pid and start time) is
 * followed for as long as it lives; only then is it looked for again, so a restarted backend (new
 * pid, or a new PID namespace after the container restarts) is found anew.
 */
import type { ProcessInfo } from "./proc/parse";

export interface ProcessIdentity {
  pid: number;
  /** Ticks after boot: with the pid, the process's identity (pids are reused, this pair is not). */
  startTime: number;
}

/** PID 1's name (comm) when it is a container init that starts the image's entrypoint as its child. */
export const CONTAINER_INITS: ReadonlySet<string> = new Set(["docker-init", "tini", "tini-static", "dumb-init", "catatonit"]);

export interface MainServerSearch {
  byPid: ReadonlyMap<number, ProcessInfo>;
  /** The processes of PID 1's session. */
  pid1Session: readonly ProcessInfo[];
  /** Whether a process's command line matches the main pattern. */
  matches: (process: ProcessInfo) => boolean;
  /** The main server an earlier scan found. */
  previous?: ProcessIdentity;
}

/** The main server, or undefined when none is found (starting up, or a pattern that matches nothing). */
export function locateMainServer({ byPid, pid1Session, matches, previous }: MainServerSearch): ProcessInfo | undefined {
  if (previous) {
    const known = byPid.get(previous.pid);
    if (known && known.startTime === previous.startTime && known.state !== "Z" && matches(known)) return known;
  }
  const pid1 = byPid.get(1);
  if (!pid1) return undefined;
  const alive = pid1Session.filter((p) => p.state !== "Z");
  const entrypoint = CONTAINER_INITS.has(pid1.comm) ? oldest(alive.filter((p) => p.ppid === 1)) : pid1;
  if (!entrypoint) return undefined;
  // Breadth first from the entrypoint, within PID 1's session: the nearest match, the oldest at its depth.
  let level = [entrypoint];
  const seen = new Set<number>();
  while (level.length > 0) {
    const found = oldest(level.filter(matches));
    if (found) return found;
    for (const p of level) seen.add(p.pid);
    const parents = new Set(level.map((p) => p.pid));
    level = alive.filter((p) => parents.has(p.ppid) && !seen.has(p.pid));
  }
  return undefined;
}

function oldest(processes: readonly ProcessInfo[]): ProcessInfo | undefined {
  let found: ProcessInfo | undefined;
  for (const p of processes) if (!found || p.startTime < found.startTime || (p.startTime === found.startTime && p.pid < found.pid)) found = p;
  return found;
}
