/**
 * Parsers for the text of /proc/<pid>/{stat,status,cmdline}. Pure, so the tests feed them fixtures
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
 * Parses /proc/<pid>/stat, or returns undefined for text that is not one. The name sits in
 * parentheses and may itself hold spaces and ")", so the fields are read after the LAST ")".
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 1 || close < open) return undefined;
  // Fields from the state (field 3 in proc(5)) onwards; index = field number - 3.
  const fields = text.slice(close + 2).split(" ");
  if (fields.length < 22) return undefined;
  const numbers = [1, 2, 3, 11, 12, 17, 19, 21].map((i) => Number(fields[i]));
  if (numbers.some((n) => !Number.isFinite(n))) return undefined;
  const [ppid, pgid, sid, utime, stime, threads, startTime, rssPages] = numbers;
  return {
    pid: Number(text.slice(0, open - 1)),
    comm: text.slice(open + 1, close),
    state: fields[0],
    ppid,
    pgid,
    sid,
    cpuTicks: utime + stime,
    threads,
    startTime,
    rssPages,
  };
}

/** Arguments of /proc/<pid>/cmdline joined by single spaces; "" for zombies and kernel threads. */
export function parseCmdline(raw: string): string {
  // Trailing NULs are the terminator, and padding left behind by programs that rewrite their title.
  return raw.replace(/\0+$/, "").split("\0").join(" ");
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
