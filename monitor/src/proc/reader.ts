/**
 * Reads the process table from /proc. The hot path is one `stat` read per process per scan, made
 * cheap three ways: each process's stat file is opened once and kept open (a scan is then one
 * pread per process, not open+read+close); the bytes are parsed in place, into the object the
 * process had last scan; and command lines are read only when a process is first seen, or after it
 * execs (same pid and start time, new name), into one reused buffer.
 *
 * Anonymous memory (statm) costs a second read per process, and only the emergency's memory measure
 * needs it: it is read only on scans whose RSS sum, which can only be larger, has reached the level
 * the caller names (scan()'s `readAnonymousFrom`), through a second descriptor kept the same way.
 *
 * A process chooses its own command line, so only its first COMMAND_LINE_LIMIT bytes are read and
 * kept (enough to recognise any server, and a bound on the memory 64 KiB lines could take), and
 * reading them stops when the scan's time budget is spent (see scan()).
 *
 * A kept descriptor belongs to the process it was opened for: once that process is gone, reads fail
 * with ESRCH even if its pid has been handed to a new process, so a reused pid is never mistaken for
 * the old one. It is closed when its pid leaves the listing. Should descriptors run out (EMFILE),
 * the reader falls back to opening each file per read.
 *
 * Processes come and go while we read: a file that vanishes (ENOENT, ESRCH) means the process
 * exited, and one we may not read (EACCES, EPERM, e.g. hidepid) is counted and skipped. Neither
 * stops a scan.
 */
import * as fs from "node:fs";
import { COMMAND_LINE_LIMIT } from "../patterns";
import { parseCmdline, parseStatBuffer, parseStatmAnonymousPages, parseStatusRssKb, parseUptime, type ProcessInfo } from "./parse";

export type { ProcessInfo } from "./parse";

export interface ProcessTable {
  processes: ProcessInfo[];
  /** The same processes by pid. The reader keeps this map from scan to scan (most processes stay), so read it before the next scan. */
  byPid: ReadonlyMap<number, ProcessInfo>;
  /** Seconds since boot when the scan started, to turn start times into ages. */
  uptimeSeconds: number;
  /** Processes listed but not readable (permission). Vanished ones are simply absent. */
  unreadable: number;
  /** Processes whose command line this scan had no time left to read; a later scan reads them. */
  pendingCommandLines: number;
  /** Every process's RSS, summed. */
  rssBytes: number;
  /** Whether this scan read each process's `anonymousBytes` (else they are stale). */
  anonymousRead: boolean;
}

/** Tells a scan when to stop reading command lines. */
export interface ScanBudget {
  expired(): boolean;
}

const NO_BUDGET: ScanBudget = { expired: () => false };

/** Linux exposes times in /proc in USER_HZ, which is 100 on every architecture it runs containers on. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** However still the pid counter stands, /proc is listed at least this often (in scans). */
export const LIST_AT_LEAST_EVERY = 10;

/** Counts of one scan, as it goes. */
interface Tally {
  /** The reader's list, overwritten from the start (it keeps its capacity), cut to `count` at the end. */
  processes: ProcessInfo[];
  count: number;
  unreadable: number;
  pendingCommandLines: number;
  rssBytes: number;
}

/** Errors that mean "this process is gone" or "this one is not ours to read"; anything else is a real fault. */
const GONE = new Set(["ENOENT", "ESRCH"]);
const DENIED = new Set(["EACCES", "EPERM"]);
const OUT_OF_DESCRIPTORS = new Set(["EMFILE", "ENFILE"]);

/** What the reader keeps about a process between scans. */
interface Tracked {
  /** Open descriptor on its stat file, or -1 when descriptors are not kept. */
  fd: number;
  /** Open descriptor on its statm file, opened the first time anonymous memory is read; -1 until then. */
  statmFd: number;
  /** The process, updated in place each scan (the scan's tables hold these same objects). */
  info: ProcessInfo;
  seenInScan: number;
}

export class ProcReader {
  private readonly buffer = Buffer.allocUnsafe(4096);
  private readonly cmdlineBuffer = Buffer.allocUnsafe(COMMAND_LINE_LIMIT + 1);
  private readonly tracked = new Map<number, Tracked>();
  /** The tracked processes' objects by pid: the table's byPid, kept up to date rather than built every scan. */
  private readonly byPid = new Map<number, ProcessInfo>();
  /** The table's list, refilled each scan. */
  private readonly processes: ProcessInfo[] = [];
  /** Descriptor on <root>/loadavg when the root is our own namespace's /proc (see mustList), else undefined. */
  private pidCounter: number | undefined;
  /** The pid counter and scan number at the last listing. */
  private listedAt: { counter: number | undefined; scan: number } = { counter: undefined, scan: 0 };
  private scanNumber = 0;
  private keepDescriptors: boolean;

  constructor(
    readonly root: string,
    private readonly pageSize: number,
    options: { keepDescriptors?: boolean } = {},
  ) {
    this.keepDescriptors = options.keepDescriptors ?? true;
    this.pidCounter = ownNamespaceLoadavg(root);
  }

  /**
   * Reads every process's stat (and, for new processes, the command line). The table, its list and
   * its objects are reused by the next scan: whatever must outlive a scan copies what it needs.
   *
   * Stats are always read: the process tree must be whole. Command lines are what a hostile
   * process can make expensive (many new processes, or exec after exec), so once `budget` has
   * expired they are left for a later scan: such a process carries `cmdlinePending` meanwhile.
   *
   * Anonymous memory is read too when the RSS sum is at or above `readAnonymousFrom` bytes.
   */
  scan(budget: ScanBudget = NO_BUDGET, readAnonymousFrom = Infinity): ProcessTable {
    const scan = ++this.scanNumber;
    const uptimeSeconds = this.readUptime();
    const tally: Tally = { processes: this.processes, count: 0, unreadable: 0, pendingCommandLines: 0, rssBytes: 0 };
    if (this.mustList()) {
      for (const name of fs.readdirSync(this.root)) {
        const first = name.charCodeAt(0);
        if (first >= 48 && first <= 57) this.visit(Number(name), scan, budget, tally); // a pid directory
      }
    } else {
      // Nothing new can exist: the known processes are all there is. An entry set during this loop
      // (a pid found reused, re-read) has been seen already.
      this.tracked.forEach((entry) => entry.seenInScan !== scan && this.visit(entry.info.pid, scan, budget, tally));
    }
    tally.processes.length = tally.count;
    // forEach, not for…of: no iterator result made per process.
    this.tracked.forEach((entry) => entry.seenInScan !== scan && this.forget(entry.info.pid, entry));
    const anonymousRead = tally.rssBytes >= readAnonymousFrom;
    if (anonymousRead) for (const info of tally.processes) this.readAnonymous(info);
    const { processes, unreadable, pendingCommandLines, rssBytes } = tally;
    return { processes, byPid: this.byPid, uptimeSeconds, unreadable, pendingCommandLines, rssBytes, anonymousRead };
  }

  /** One listed (or known) pid: its stat, and its command line if it is new or exec'd, into the tally. */
  private visit(pid: number, scan: number, budget: ScanBudget, tally: Tally): void {
    const known = this.tracked.get(pid);
    if (known) {
      const { startTime, comm } = known.info;
      if (this.statNow(pid, known.fd, known.info) === undefined || known.info.startTime !== startTime) {
        this.forget(pid, known); // gone, or the pid reused by a new process (read below, if it is there)
      } else if (known.info.comm === comm) {
        if (known.info.cmdlinePending && !this.fillCmdline(pid, known, budget)) return; // gone meanwhile
        known.seenInScan = scan;
        known.info.rssBytes = known.info.rssPages * this.pageSize;
        tally.rssBytes += known.info.rssBytes;
        if (known.info.cmdlinePending) tally.pendingCommandLines++;
        tally.processes[tally.count++] = known.info; // the hot path: one pread, no allocation
        return;
      }
      // Same process, new name: it exec'd, and readNew reads its new command line.
    }
    const info = this.readNew(pid, scan, budget);
    if (info === "denied") tally.unreadable++;
    if (typeof info === "object") {
      if (info.cmdlinePending) tally.pendingCommandLines++;
      tally.rssBytes += info.rssBytes;
      tally.processes[tally.count++] = info;
    }
  }

  /**
   * Whether this scan must list /proc to find new processes. Listing costs a fifth of a scan of
   * thousands of idle processes (leaked servers, say), and finds nothing when no process or thread
   * was created since the last one: the namespace's pid counter (the last field of /proc/loadavg,
   * the last pid handed out in the reader's PID namespace) moves with every creation, and nothing
   * in a container without CAP_SYS_ADMIN can move it back. It can come round to the same number,
   * after pid_max creations (32,768 by default) between two scans; so the listing is made at least
   * every LIST_AT_LEAST_EVERY scans all the same. Only for a /proc of the reader's own namespace.
   */
  private mustList(): boolean {
    const counter = this.pidCounter === undefined ? undefined : this.readPidCounter();
    if (counter !== undefined && counter === this.listedAt.counter && this.scanNumber - this.listedAt.scan < LIST_AT_LEAST_EVERY) return false;
    this.listedAt = { counter, scan: this.scanNumber };
    return true;
  }

  /** The last pid handed out in this namespace, or undefined (from then on the reader always lists). */
  private readPidCounter(): number | undefined {
    const result = this.readOpen(this.pidCounter!, this.buffer);
    const text = "error" in result ? "" : this.buffer.toString("latin1", 0, result.length);
    const counter = parseLastPid(text);
    if (counter === undefined) {
      fs.closeSync(this.pidCounter!);
      this.pidCounter = undefined;
    }
    return counter;
  }

  /**
   * A process's anonymous memory, through its kept statm descriptor (opened on first use). A process
   * gone since its stat was read holds none; so does one whose statm cannot be read.
   */
  private readAnonymous(info: ProcessInfo): void {
    const entry = this.tracked.get(info.pid)!;
    const path = `${this.root}/${info.pid}/statm`;
    if (entry.statmFd < 0 && this.keepDescriptors) {
      const fd = this.openToKeep(path);
      if (typeof fd === "number") entry.statmFd = fd;
      // Opened by path: only if the process we hold still lives was its pid not reused meanwhile.
      if (typeof fd === "number" && this.statNow(info.pid, entry.fd) === undefined) {
        info.anonymousBytes = 0;
        return;
      }
    }
    const result = entry.statmFd >= 0 ? this.readOpen(entry.statmFd, this.buffer) : this.readFile(path, this.buffer);
    const pages = "error" in result ? undefined : parseStatmAnonymousPages(this.buffer, result.length);
    info.anonymousBytes = (pages ?? 0) * this.pageSize;
  }

  /**
   * A process seen for the first time, or after an exec (same pid and start time, new name): its
   * stat and command line. Returns "gone" when it exited, or its pid was reused, meanwhile.
   */
  private readNew(pid: number, scan: number, budget: ScanBudget): ProcessInfo | "gone" | "denied" {
    let entry = this.tracked.get(pid);
    if (!entry) {
      const opened = this.openStat(pid);
      if (typeof opened !== "object") return opened;
      entry = { fd: opened.fd, statmFd: -1, info: opened.stat, seenInScan: scan };
    }
    if (!this.fillCmdline(pid, entry, budget)) return "gone";
    const { info } = entry;
    info.rssBytes = info.rssPages * this.pageSize;
    entry.seenInScan = scan;
    this.tracked.set(pid, entry);
    this.byPid.set(pid, info);
    return info;
  }

  /**
   * Reads the command line into the process's object, or marks it pending when the budget is spent.
   * False when the process is gone (or its pid reused) meanwhile; it is then forgotten.
   */
  private fillCmdline(pid: number, entry: Tracked, budget: ScanBudget): boolean {
    const { info } = entry;
    if (budget.expired()) {
      info.cmdline = `[${info.comm}]`;
      info.cmdlineTruncated = false;
      info.cmdlinePending = true;
      return true;
    }
    const { text, truncated } = this.readCmdline(pid);
    // That was read by path: only if the process is still the one we hold is the pid not reused.
    const again = this.statNow(pid, entry.fd);
    if (again === undefined || again.startTime !== info.startTime) {
      this.forget(pid, entry);
      return false;
    }
    // Zombies have no command line yet keep their pid: remembering "[comm]" for them is right.
    info.cmdline = text === "" ? `[${info.comm}]` : text;
    info.cmdlineTruncated = truncated;
    info.cmdlinePending = false;
    return true;
  }

  /** One process's stat now, from a fresh open: what the reaper checks before each signal. */
  readStat(pid: number, into?: ProcessInfo): ProcessInfo | "gone" | "denied" {
    const result = this.readFile(`${this.root}/${pid}/stat`, this.buffer);
    if ("error" in result) return result.error;
    return parseStatBuffer(this.buffer, result.length, into) ?? "gone";
  }

  /** Number of processes remembered; exposed so tests can prove the reader forgets exited ones. */
  get trackedProcesses(): number {
    return this.tracked.size;
  }

  /** Open descriptors kept on stat and statm files. */
  get openDescriptors(): number {
    let count = 0;
    for (const entry of this.tracked.values()) count += (entry.fd >= 0 ? 1 : 0) + (entry.statmFd >= 0 ? 1 : 0);
    return count;
  }

  /** Closes every kept descriptor. */
  close(): void {
    for (const [pid, entry] of this.tracked) this.forget(pid, entry);
    if (this.pidCounter !== undefined) fs.closeSync(this.pidCounter);
    this.pidCounter = undefined;
  }

  /** Its stat now, through its kept descriptor if it has one (fd >= 0), else by path; undefined when gone. */
  private statNow(pid: number, fd: number, into?: ProcessInfo): ProcessInfo | undefined {
    const stat = fd >= 0 ? this.readKept(fd, into) : this.readStat(pid, into);
    return typeof stat === "object" ? stat : undefined;
  }

  /** Reads through a kept descriptor (into `into` when given); undefined when its process is gone. */
  private readKept(fd: number, into?: ProcessInfo): ProcessInfo | undefined {
    try {
      const length = fs.readSync(fd, this.buffer, 0, this.buffer.length, 0);
      return parseStatBuffer(this.buffer, length, into);
    } catch (err) {
      if (failure(err).error === "gone") return undefined;
      throw err;
    }
  }

  /** Opens a process's stat file, reads it, and keeps the descriptor if we can. */
  private openStat(pid: number): { stat: ProcessInfo; fd: number } | "gone" | "denied" {
    if (this.keepDescriptors) {
      const fd = this.openToKeep(`${this.root}/${pid}/stat`);
      if (typeof fd === "number") {
        const stat = this.readKept(fd);
        if (stat !== undefined) return { stat, fd };
        fs.closeSync(fd);
        return "gone";
      }
      if (fd !== "not-kept") return fd;
    }
    const stat = this.readStat(pid);
    return typeof stat === "object" ? { stat, fd: -1 } : stat;
  }

  /** A descriptor to keep; "not-kept" when descriptors ran out (from then on every file is read by path). */
  private openToKeep(path: string): number | "gone" | "denied" | "not-kept" {
    try {
      return fs.openSync(path, "r");
    } catch (err) {
      if (!OUT_OF_DESCRIPTORS.has((err as NodeJS.ErrnoException).code ?? "")) return failure(err).error;
      this.keepDescriptors = false;
      return "not-kept";
    }
  }

  private forget(pid: number, entry: Tracked): void {
    if (entry.fd >= 0) fs.closeSync(entry.fd);
    if (entry.statmFd >= 0) fs.closeSync(entry.statmFd);
    entry.fd = -1;
    entry.statmFd = -1;
    if (this.tracked.get(pid) === entry) this.tracked.delete(pid);
    if (this.byPid.get(pid) === entry.info) this.byPid.delete(pid);
  }

  private readUptime(): number {
    const result = this.readFile(`${this.root}/uptime`, this.buffer);
    const uptime = "error" in result ? undefined : parseUptime(this.buffer.toString("latin1", 0, result.length));
    if (uptime === undefined) throw new Error(`cannot read ${this.root}/uptime`);
    return uptime;
  }

  /** Reads a file into one of the shared buffers (up to its size: stat is well under 1 KiB). */
  private readFile(path: string, buffer: Buffer): { length: number } | { error: "gone" | "denied" } {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (err) {
      return failure(err);
    }
    try {
      return this.readOpen(fd, buffer);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Reads an open file from its start into `buffer`. */
  private readOpen(fd: number, buffer: Buffer): { length: number } | { error: "gone" | "denied" } {
    try {
      return { length: fs.readSync(fd, buffer, 0, buffer.length, 0) };
    } catch (err) {
      return failure(err);
    }
  }

  /**
   * The command line, "" when there is none or the process is gone. Read into a shared 64 KiB buffer:
   * a longer one is cut there, which leaves the command and its first arguments for the patterns.
   */
  /** At most COMMAND_LINE_LIMIT bytes of it: one byte more is read only to tell whether there was more. */
  private readCmdline(pid: number): { text: string; truncated: boolean } {
    const result = this.readFile(`${this.root}/${pid}/cmdline`, this.cmdlineBuffer);
    if ("error" in result) return { text: "", truncated: false };
    const truncated = result.length > COMMAND_LINE_LIMIT;
    const length = Math.min(result.length, COMMAND_LINE_LIMIT);
    return { text: parseCmdline(this.cmdlineBuffer.toString("latin1", 0, length)), truncated };
  }
}

function failure(err: unknown): { error: "gone" | "denied" } {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  if (GONE.has(code)) return { error: "gone" };
  if (DENIED.has(code)) return { error: "denied" };
  throw err;
}

/**
 * A descriptor on <root>/loadavg, whose last field is the last pid handed out in the PID namespace
 * of the process reading it: only when <root> is the /proc of our own namespace (its `self` is our
 * pid), else undefined. A fixture /proc, or one of another namespace, is always listed.
 */
function ownNamespaceLoadavg(root: string): number | undefined {
  try {
    if (fs.readlinkSync(`${root}/self`) !== String(process.pid)) return undefined;
    return fs.openSync(`${root}/loadavg`, "r");
  } catch {
    return undefined;
  }
}

/** The last field of /proc/loadavg ("0.20 0.18 0.12 1/80 11206"), or undefined. */
export function parseLastPid(text: string): number | undefined {
  const match = /^\d+\.\d+ \d+\.\d+ \d+\.\d+ \d+\/\d+ (\d+)\n?$/.exec(text);
  return match ? Number(match[1]) : undefined;
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
