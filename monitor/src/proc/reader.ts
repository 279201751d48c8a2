/**
 * Reads the process table from /proc. The hot path is one `stat` read per process per scan, into
 * one reused buffer (no fstat, no allocation per file). Command lines and uids are read only the
 * first time a process is seen (keyed by pid, start time and name: a reused pid has another start
 * time, an exec another name), because they are what makes a naive scan slow.
 *
 * Processes come and go while we read: a file that vanishes (ENOENT, ESRCH) means the process
 * exited, and one we may not read (EACCES, EPERM, e.g. hidepid) is counted and skipped. Neither
 * stops a scan.
 */
import * as fs from "node:fs";
import { parseCmdline, parseStat, parseStatusRssKb, parseStatusUid, parseUptime, type ProcStat } from "./parse";

export interface ProcessInfo extends ProcStat {
  /** Arguments joined by spaces; for zombies and processes without one, "[comm]" as ps shows it. */
  cmdline: string;
  /** Real uid, or -1 when it could not be read. */
  uid: number;
  rssBytes: number;
}

export interface ProcessTable {
  processes: ProcessInfo[];
  /** Seconds since boot when the scan started, to turn start times into ages. */
  uptimeSeconds: number;
  /** Processes listed but not readable (permission). Vanished ones are simply absent. */
  unreadable: number;
}

/** Linux exposes times in /proc in USER_HZ, which is 100 on every architecture it runs containers on. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Errors that mean "this process is gone" or "this one is not ours to read"; anything else is a real fault. */
const GONE = new Set(["ENOENT", "ESRCH"]);
const DENIED = new Set(["EACCES", "EPERM"]);

type ReadResult = { text: string } | { error: "gone" | "denied" };

interface Identity {
  cmdline: string;
  uid: number;
  /** The scan that last saw this process; entries not seen in a scan are dropped after it. */
  seenInScan: number;
}

export class ProcReader {
  private readonly buffer = Buffer.allocUnsafe(4096);
  private readonly identities = new Map<string, Identity>();
  private scanNumber = 0;

  constructor(
    readonly root: string,
    private readonly pageSize: number,
  ) {}

  /** Reads every process's stat (and, for new processes, cmdline and status). */
  scan(): ProcessTable {
    const scan = ++this.scanNumber;
    const uptimeSeconds = this.readUptime();
    const processes: ProcessInfo[] = [];
    let unreadable = 0;
    for (const name of fs.readdirSync(this.root)) {
      const first = name.charCodeAt(0);
      if (first < 48 || first > 57) continue; // not a pid directory
      const stat = this.readStat(Number(name));
      if (stat === "denied") unreadable++;
      if (typeof stat !== "object") continue;
      const identity = this.identify(stat, scan);
      if (identity === undefined) continue; // exited, or its pid was reused, while we read it
      processes.push({ ...stat, cmdline: identity.cmdline, uid: identity.uid, rssBytes: stat.rssPages * this.pageSize });
    }
    for (const [key, identity] of this.identities) {
      if (identity.seenInScan !== scan) this.identities.delete(key);
    }
    return { processes, uptimeSeconds, unreadable };
  }

  /** One process's stat now: what the reaper checks before each signal. */
  readStat(pid: number): ProcStat | "gone" | "denied" {
    const result = this.readSmall(`${this.root}/${pid}/stat`);
    if ("error" in result) return result.error;
    return parseStat(result.text) ?? "gone";
  }

  /** Number of cached identities; exposed so tests can prove the cache forgets exited processes. */
  get cachedIdentities(): number {
    return this.identities.size;
  }

  private identify(stat: ProcStat, scan: number): Identity | undefined {
    const key = `${stat.pid}:${stat.startTime}:${stat.comm}`;
    let identity = this.identities.get(key);
    if (identity === undefined) {
      const cmdline = this.readWhole(`${this.root}/${stat.pid}/cmdline`);
      const status = this.readWhole(`${this.root}/${stat.pid}/status`);
      // The pid may have been reused between the stat read and these; only a matching stat proves it was not.
      const again = this.readStat(stat.pid);
      if (typeof again !== "object" || again.startTime !== stat.startTime) return undefined;
      const args = "text" in cmdline ? parseCmdline(cmdline.text) : "";
      identity = {
        cmdline: args === "" ? `[${stat.comm}]` : args,
        uid: ("text" in status ? parseStatusUid(status.text) : undefined) ?? -1,
        seenInScan: scan,
      };
      // Zombies have no command line yet keep their pid: remembering "[comm]" for them is right.
      this.identities.set(key, identity);
    }
    identity.seenInScan = scan;
    return identity;
  }

  private readUptime(): number {
    const result = this.readSmall(`${this.root}/uptime`);
    const uptime = "text" in result ? parseUptime(result.text) : undefined;
    if (uptime === undefined) throw new Error(`cannot read ${this.root}/uptime`);
    return uptime;
  }

  /** Reads a file that fits the shared buffer (stat: well under 1 KiB). */
  private readSmall(path: string): ReadResult {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (err) {
      return failure(err);
    }
    try {
      const length = fs.readSync(fd, this.buffer, 0, this.buffer.length, 0);
      return { text: this.buffer.toString("latin1", 0, length) };
    } catch (err) {
      return failure(err);
    } finally {
      fs.closeSync(fd);
    }
  }

  private readWhole(path: string): ReadResult {
    try {
      return { text: fs.readFileSync(path, "latin1") };
    } catch (err) {
      return failure(err);
    }
  }
}

function failure(err: unknown): { error: "gone" | "denied" } {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  if (GONE.has(code)) return { error: "gone" };
  if (DENIED.has(code)) return { error: "denied" };
  throw err;
}

/**
 * Bytes per page, which /proc/<pid>/stat counts RSS in. Node cannot call sysconf, so it is read off
 * our own process: VmRSS (kB, in status) over resident pages (statm), rounded to a power of two.
 */
export function detectPageSize(root: string): number {
  try {
    const residentPages = Number(fs.readFileSync(`${root}/self/statm`, "latin1").split(" ")[1]);
    const rssKb = parseStatusRssKb(fs.readFileSync(`${root}/self/status`, "latin1"));
    if (!residentPages || !rssKb) return 4096;
    return 2 ** Math.round(Math.log2((rssKb * 1024) / residentPages));
  } catch {
    return 4096;
  }
}
