/**
 * Process tables for the monitor's pure tests: `proc()` builds one process with sensible defaults,
 * `table()` a scan result, and `writeProcTree()` lays the same processes out as /proc files so the
 * reader is tested on the text the kernel writes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_MAIN_PATTERN, DEFAULT_MCP_PATTERNS } from "../../../monitor/src/contract";
import type { ProcessInfo, ProcessTable } from "../../../monitor/src/proc/reader";
import { CLOCK_TICKS_PER_SECOND } from "../../../monitor/src/proc/reader";
import { CommandMatcher } from "../../../monitor/src/patterns";
import type { ClassifyOptions } from "../../../monitor/src/tree";

export const PAGE = 4096;
/** Uptime of every fixture table: processes "started" at tick N are (UPTIME - N/100) seconds old. */
export const UPTIME = 10_000;

export interface ProcSpec {
  pid: number;
  ppid: number;
  cmd: string;
  /** Defaults to the parent's session in tree(), or the pid itself. */
  sid?: number;
  pgid?: number;
  state?: string;
  /** Seconds since the process started; default 600. */
  age?: number;
  cpuTicks?: number;
  threads?: number;
  rssMiB?: number;
  /** Of rssMiB, the anonymous part (the rest is shared file pages); default: all of it. */
  anonMiB?: number;
}

export function proc(spec: ProcSpec): ProcessInfo {
  const sid = spec.sid ?? spec.pid;
  const comm = (spec.cmd.split(" ")[0].split("/").pop() ?? "x").slice(0, 15);
  const rssPages = Math.round(((spec.rssMiB ?? 10) * 1024 * 1024) / PAGE);
  const anonymousPages = Math.min(rssPages, Math.round(((spec.anonMiB ?? spec.rssMiB ?? 10) * 1024 * 1024) / PAGE));
  const state = spec.state ?? "S";
  return {
    pid: spec.pid,
    comm,
    state,
    ppid: spec.ppid,
    pgid: spec.pgid ?? sid,
    sid,
    cpuTicks: spec.cpuTicks ?? 0,
    threads: spec.threads ?? 1,
    startTime: Math.round((UPTIME - (spec.age ?? 600)) * CLOCK_TICKS_PER_SECOND),
    rssPages: state === "Z" ? 0 : rssPages,
    rssBytes: state === "Z" ? 0 : rssPages * PAGE,
    anonymousBytes: state === "Z" ? 0 : anonymousPages * PAGE,
    cmdline: state === "Z" ? `[${comm}]` : spec.cmd,
    cmdlineTruncated: false,
    cmdlinePending: false,
  };
}

/** classify() options with the default patterns; the monitor's own pid is 900 in these fixtures. */
export function classifyOptions(): ClassifyOptions {
  return { matcher: new CommandMatcher(DEFAULT_MCP_PATTERNS.map((p) => new RegExp(p)), new RegExp(DEFAULT_MAIN_PATTERN)), selfPid: 900 };
}

/** A scan of these processes, their anonymous memory read (as when the RSS sum is near the threshold). */
export function table(processes: ProcessInfo[]): ProcessTable {
  const rssBytes = processes.reduce((sum, p) => sum + p.rssBytes, 0);
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  return { processes, byPid, uptimeSeconds: UPTIME, unreadable: 0, pendingCommandLines: 0, rssBytes, anonymousRead: true };
}

/**
 * A MetaMCP-like namespace: PID 1 entrypoint shell, the backend (`node dist/index.js`, pid 10) and
 * the frontend, all in session 1. Add MCP groups with mcpGroup().
 */
export function metamcpBase(): ProcessInfo[] {
  return [
    proc({ pid: 1, ppid: 0, cmd: "/bin/sh /app/docker-entrypoint.sh", sid: 1, age: 3600 }),
    proc({ pid: 10, ppid: 1, cmd: "node dist/index.js", sid: 1, pgid: 1, age: 3590, threads: 11, rssMiB: 200 }),
    proc({ pid: 11, ppid: 1, cmd: "tail -n +1 -F /tmp/backend.out", sid: 1, pgid: 1, age: 3590 }),
    proc({ pid: 12, ppid: 1, cmd: "node /usr/local/bin/pnpm start", sid: 1, pgid: 1, age: 3500, threads: 7 }),
  ];
}

/**
 * Real MetaMCP 2.4.22's idle tree as `docker top` showed it (pids renumbered): docker-init as PID 1,
 * the entrypoint shell its child (own process group, PID 1's session), the backend and the
 * frontend's pnpm → sh → next-server chain below it, all in session 1.
 */
export function metamcpReal(): ProcessInfo[] {
  return [
    proc({ pid: 1, ppid: 0, cmd: "/sbin/docker-init -- ./docker-entrypoint.sh", sid: 1, age: 3600, rssMiB: 1 }),
    proc({ pid: 7, ppid: 1, cmd: "/bin/sh ./docker-entrypoint.sh", sid: 1, pgid: 7, age: 3600, rssMiB: 2 }),
    proc({ pid: 20, ppid: 7, cmd: "node dist/index.js", sid: 1, pgid: 7, age: 3590, threads: 11, rssMiB: 88 }),
    proc({ pid: 25, ppid: 7, cmd: "node /usr/bin/pnpm start", sid: 1, pgid: 7, age: 3587, threads: 11, rssMiB: 97 }),
    proc({ pid: 30, ppid: 25, cmd: "node /home/nextjs/.local/share/pnpm/.tools/pnpm/9.0.0/bin/pnpm start", sid: 1, pgid: 7, age: 3586, threads: 11, rssMiB: 90 }),
    proc({ pid: 40, ppid: 30, cmd: "sh -c next start", sid: 1, pgid: 7, age: 3585, rssMiB: 2 }),
    proc({ pid: 42, ppid: 40, cmd: "next-server (v15.4.8)", sid: 1, pgid: 7, age: 3585, threads: 11, rssMiB: 102 }),
  ].map((p) => (p.pid === 1 ? { ...p, comm: "docker-init" } : p));
}

export interface GroupSpec {
  /** Leader pid = sid = pgid. */
  sid: number;
  /** Parent of the leader: 10 (the backend) while live. */
  parent?: number;
  /** false: the leader has exited and its children were re-parented to PID 1. */
  leaderAlive?: boolean;
  leaderZombie?: boolean;
  server?: string;
  age?: number;
  cpuTicks?: number;
  rssMiB?: number;
}

/** `npm exec @modelcontextprotocol/server-<name>` → `sh -c` → `node …/mcp-server-<name>`, as MetaMCP starts them. */
export function mcpGroup(spec: GroupSpec): ProcessInfo[] {
  const { sid } = spec;
  const server = spec.server ?? `s${sid}`;
  const age = spec.age ?? 600;
  const rss = spec.rssMiB ?? 30;
  const orphanParent = 1;
  const processes: ProcessInfo[] = [];
  if (spec.leaderAlive !== false) {
    processes.push(
      proc({
        pid: sid,
        ppid: spec.parent ?? 10,
        cmd: `npm exec @modelcontextprotocol/server-${server}`,
        sid,
        age,
        cpuTicks: spec.cpuTicks ?? 0,
        threads: 11,
        rssMiB: rss / 3,
        state: spec.leaderZombie ? "Z" : "S",
      }),
    );
  }
  const childParent = spec.leaderAlive === false || spec.leaderZombie ? orphanParent : sid;
  processes.push(
    proc({ pid: sid + 1, ppid: childParent, cmd: `sh -c mcp-server-${server}`, sid, age: age - 1, rssMiB: 1 }),
    proc({
      pid: sid + 2,
      ppid: sid + 1,
      cmd: `node /home/app/.npm/_npx/1/node_modules/.bin/mcp-server-${server}`,
      sid,
      age: age - 1,
      threads: 9,
      rssMiB: rss - rss / 3 - 1,
    }),
  );
  return processes;
}

/** Formats the /proc/<pid>/stat line the kernel would write for a process. */
export function statLine(p: ProcessInfo): string {
  const utime = Math.floor(p.cpuTicks / 2);
  const stime = p.cpuTicks - utime;
  // Fields 3..52 of proc(5); the ones the monitor ignores are plausible constants.
  const fields = [
    p.state, p.ppid, p.pgid, p.sid, 0, -1, 4194304, 100, 0, 0, 0, utime, stime, 0, 0, 20, 0, p.threads, 0,
    p.startTime, 10_000_000, p.rssPages, "18446744073709551615", 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  ];
  return `${p.pid} (${p.comm}) ${fields.join(" ")}\n`;
}

/** Formats the /proc/<pid>/statm line: size resident shared text lib data dt, in pages. */
export function statmLine(p: ProcessInfo): string {
  const anonymousPages = p.anonymousBytes / PAGE;
  return `${p.rssPages * 4} ${p.rssPages} ${p.rssPages - anonymousPages} 1000 0 ${anonymousPages} 0\n`;
}

/** Writes processes as <root>/<pid>/{stat,statm,cmdline,status} plus <root>/uptime. */
export function writeProcTree(root: string, processes: ProcessInfo[], uptime = UPTIME): void {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, "uptime"), `${uptime.toFixed(2)} 1234.56\n`);
  for (const p of processes) writeProcess(root, p);
}

export function writeProcess(root: string, p: ProcessInfo): void {
  const dir = path.join(root, String(p.pid));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "stat"), statLine(p));
  fs.writeFileSync(path.join(dir, "statm"), statmLine(p));
  const args = p.state === "Z" ? "" : `${p.cmdline.split(" ").join("\0")}\0`;
  fs.writeFileSync(path.join(dir, "cmdline"), args);
  fs.writeFileSync(
    path.join(dir, "status"),
    `Name:\t${p.comm}\nState:\t${p.state}\nPid:\t${p.pid}\nPPid:\t${p.ppid}\nUid:\t1001\t1001\t1001\t1001\n` +
      (p.state === "Z" ? "" : `VmRSS:\t${p.rssBytes / 1024} kB\n`),
  );
}
