/**
 * Parsers for the text of /proc/<pid>/{stat,statm,status,cmdline}. Pure, so the tests feed them fixtures
 * copied from real processes, including the awkward ones (spaces and parentheses in the name).
 */

/** The fields of /proc/<pid>/stat the monitor uses. Times are in clock ticks, as the kernel writes them. */
export interface ProcStat {
  pid: number;
  /** The executable's name as the kernel keeps it (at most 15 characters); changes on exec. */
  comm: string;
  /** R, S, D, Z, T, t, X, I… */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** User plus system CPU time, in clock ticks. */
  cpuTicks: number;
  threads: number;
  /** Ticks after boot at which the process started: with the pid, its identity. */
  startTime: number;
  rssPages: number;
}

/**
 * A process as the monitor sees it. The stat parser creates objects of this whole shape, with the
 * fields it cannot know (command line, RSS in bytes) empty, so the reader fills them in instead of
 * copying every field into a second object, once per process per scan.
 */
export interface ProcessInfo extends ProcStat {
  /**
   * Arguments joined by spaces, at most COMMAND_LINE_LIMIT bytes of them; for zombies and processes
   * without one, "[comm]" as ps shows it.
   */
  cmdline: string;
  /** The process's command line is longer than what `cmdline` holds. */
  cmdlineTruncated: boolean;
  /** Not read yet: the scan ran out of time first (the reader reads it on a later scan); `cmdline` is "[comm]". */
  cmdlinePending: boolean;
  rssBytes: number;
  /**
   * Resident anonymous memory (statm's resident minus shared pages: RssAnon), in bytes. Read only on
   * scans whose table says `anonymousRead`; on other scans it holds whatever an earlier one read.
   */
  anonymousBytes: number;
}

/**
 * Parses /proc/<pid>/stat, or returns undefined for text that is not one. The name sits in
 * parentheses and may itself hold spaces and ")", so the fields are read after the LAST ")".
 */
export function parseStat(text: string): ProcessInfo | undefined {
  const buffer = Buffer.from(text, "latin1");
  return parseStatBuffer(buffer, buffer.length);
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const MINUS = 0x2d;
const ZERO = 0x30;
const OPEN = 0x28;
const CLOSE = 0x29;
/** The longest name stat holds: a kernel thread's (a process's is at most 15 bytes). */
const MAX_NAME_BYTES = 64;

/** Field number (0 = state) → slot: ppid, pgrp, session, utime, stime, num_threads, starttime, rss. */
const WANTED_SLOT = new Int8Array(22).fill(-1);
[1, 2, 3, 11, 12, 17, 19, 21].forEach((field, slot) => (WANTED_SLOT[field] = slot));
const wanted = new Float64Array(8);

/**
 * parseStat on the bytes as read, without making strings of the numbers: this runs once per process
 * per scan, and garbage made here is most of what the monitor's heap churns through. With `into`
 * (this process's object from the last scan) the fields are written into it, and its name string is
 * kept when the bytes still spell it; the command line and RSS in bytes are left for the reader.
 * A line that does not parse leaves `into` partly written: the caller drops it.
 */
export function parseStatBuffer(buffer: Buffer, length: number, into?: ProcessInfo): ProcessInfo | undefined {
  // Searched by hand, within the line: Buffer's indexOf is a call into C++, twice per process per scan.
  let open = 0;
  while (open < length && buffer[open] !== OPEN) open++;
  // The name may hold ")" itself, so it ends at the LAST ")" of the line. The fields after it hold
  // none, so that is the last one within a name's reach of "(".
  let close = -1;
  for (let i = open + 1, end = Math.min(length, open + 2 + MAX_NAME_BYTES); i < end; i++) if (buffer[i] === CLOSE) close = i;
  if (open < 2 || close < open || close + 3 >= length) return undefined;
  const pid = readInt(buffer, 0, open - 1);
  let position = close + 4; // start of field 1 (ppid)
  for (let field = 1; field <= 21; field++) {
    let end = position;
    while (end < length && buffer[end] !== SPACE) end++;
    if (end === position) return undefined;
    const slot = WANTED_SLOT[field];
    if (slot >= 0) {
      const value = readInt(buffer, position, end);
      if (Number.isNaN(value)) return undefined;
      wanted[slot] = value;
    }
    position = end + 1;
  }
  const comm = into && spells(buffer, open + 1, close, into.comm) ? into.comm : buffer.toString("latin1", open + 1, close);
  const state = STATES[buffer[close + 2]] ?? String.fromCharCode(buffer[close + 2]);
  if (into) {
    into.pid = pid;
    into.comm = comm;
    into.state = state;
    into.ppid = wanted[0];
    into.pgid = wanted[1];
    into.sid = wanted[2];
    into.cpuTicks = wanted[3] + wanted[4];
    into.threads = wanted[5];
    into.startTime = wanted[6];
    into.rssPages = wanted[7];
    return into;
  }
  return {
    pid,
    comm,
    state,
    ppid: wanted[0],
    pgid: wanted[1],
    sid: wanted[2],
    cpuTicks: wanted[3] + wanted[4],
    threads: wanted[5],
    startTime: wanted[6],
    rssPages: wanted[7],
    cmdline: "",
    cmdlineTruncated: false,
    cmdlinePending: false,
    rssBytes: 0,
    anonymousBytes: 0,
  };
}

/**
 * Resident anonymous pages from /proc/<pid>/statm ("size resident shared text lib data dt", in
 * pages): resident minus shared, where shared counts file-backed pages and shared memory (shmem).
 * What is left is the process's own memory (heap, stacks), which the memory cgroup must keep
 * charged with no swap to go to. File pages (the node binary, libraries) are mapped by every
 * process that uses them but charged once, and clean ones are dropped under pressure before
 * anything is OOM-killed. Undefined for text that is not a statm line.
 */
export function parseStatmAnonymousPages(buffer: Buffer, length: number): number | undefined {
  const sizeEnd = fieldEnd(buffer, 0, length);
  const residentEnd = fieldEnd(buffer, sizeEnd + 1, length);
  const sharedEnd = fieldEnd(buffer, residentEnd + 1, length);
  const size = readInt(buffer, 0, sizeEnd);
  const resident = readInt(buffer, sizeEnd + 1, residentEnd);
  const shared = readInt(buffer, residentEnd + 1, sharedEnd);
  if (Number.isNaN(size) || Number.isNaN(resident) || Number.isNaN(shared)) return undefined;
  return Math.max(0, resident - shared);
}

/** Where the space- or newline-ended field starting at `start` ends. */
function fieldEnd(buffer: Buffer, start: number, length: number): number {
  let end = start;
  while (end < length && buffer[end] !== SPACE && buffer[end] !== NEWLINE) end++;
  return end;
}

/** One-letter state strings by byte, so a state costs no allocation. */
const STATES: Record<number, string> = Object.fromEntries([..."RSDZTtXxKWPI"].map((c) => [c.charCodeAt(0), c]));

function spells(buffer: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (buffer[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** The decimal integer in buffer[start, end), or NaN. */
function readInt(buffer: Buffer, start: number, end: number): number {
  let i = start;
  const negative = buffer[i] === MINUS;
  if (negative) i++;
  if (i >= end) return NaN;
  let value = 0;
  for (; i < end; i++) {
    const digit = buffer[i] - ZERO;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** Arguments of /proc/<pid>/cmdline joined by single spaces; "" for zombies and kernel threads. */
export function parseCmdline(raw: string): string {
  // Trailing NULs are the terminator, and padding left behind by programs that rewrite their title.
  // Found by a loop: the regular expression /\0+$/ is quadratic on a line of NULs.
  let end = raw.length;
  while (end > 0 && raw.charCodeAt(end - 1) === 0) end--;
  return raw.slice(0, end).split("\0").join(" ");
}

/** The real uid from the "Uid:" line of /proc/<pid>/status, or undefined. */
export function parseStatusUid(text: string): number | undefined {
  const match = /^Uid:\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The "VmRSS:" line of /proc/<pid>/status, in kB, or undefined (zombies have none). */
export function parseStatusRssKb(text: string): number | undefined {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Seconds since boot from /proc/uptime. */
export function parseUptime(text: string): number | undefined {
  const seconds = Number(text.split(" ")[0]);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** The effective capability set from the "CapEff:" line of /proc/<pid>/status, or undefined. */
export function parseStatusCapEff(text: string): bigint | undefined {
  const match = /^CapEff:\s+([0-9a-f]+)/m.exec(text);
  return match ? BigInt(`0x${match[1]}`) : undefined;
}
