import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseCmdline, parseStat, parseStatmAnonymousPages, parseStatusCapEff, parseStatusRssKb, parseStatusUid, parseUptime } from "../../monitor/src/proc/parse";
import { COMMAND_LINE_LIMIT } from "../../monitor/src/patterns";
import { detectPageSize, LIST_AT_LEAST_EVERY, parseLastPid, ProcReader } from "../../monitor/src/proc/reader";
import { mcpGroup, metamcpBase, PAGE, proc, UPTIME, writeProcess, writeProcTree } from "./support/fixtures";

// Real lines, copied from /proc on a Linux 6.x machine.
const SLEEP_STAT =
  "7 (sleep) S 1 1 1 0 -1 4194304 58 0 0 0 0 0 0 0 20 0 1 0 36366 2322432 316 18446744073709551615 1 1 0 0 0 0 0 6 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
const NODE_STAT =
  "4242 (node) S 10 4242 4242 0 -1 4194560 9000 0 12 0 153 47 0 0 20 0 11 0 987654 1130000000 15360 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

describe("parseStat", () => {
  it("reads the fields the monitor uses from a real line", () => {
    expect(parseStat(NODE_STAT)).toEqual({
      cmdline: "",
      cmdlineTruncated: false,
      cmdlinePending: false,
      rssBytes: 0,
      anonymousBytes: 0,
      pid: 4242,
      comm: "node",
      state: "S",
      ppid: 10,
      pgid: 4242,
      sid: 4242,
      cpuTicks: 200,
      threads: 11,
      startTime: 987654,
      rssPages: 15360,
    });
  });

  it("reads the fields after the last ')' when the name holds spaces and parentheses", () => {
    const line = SLEEP_STAT.replace("(sleep)", "(a) b (c)");
    const stat = parseStat(line)!;
    expect(stat.comm).toBe("a) b (c");
    expect(stat).toMatchObject({ pid: 7, state: "S", ppid: 1, pgid: 1, sid: 1, startTime: 36366, rssPages: 316 });
  });

  it("reads a kernel thread's long name (up to 63 bytes), parentheses and all", () => {
    const name = `kworker/u8:2-${"x) (".repeat(12)}ev`; // 63 bytes
    expect(parseStat(SLEEP_STAT.replace("(sleep)", `(${name})`))).toMatchObject({ comm: name, state: "S", ppid: 1, startTime: 36366 });
  });

  it("reads zombies", () => {
    const stat = parseStat("31 (sh) Z 20 20 20 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    expect(stat).toMatchObject({ pid: 31, comm: "sh", state: "Z", ppid: 20, rssPages: 0 });
  });

  it.each([
    ["empty", ""],
    ["no parentheses", "7 sleep S 1 1 1"],
    ["truncated", "7 (sleep) S 1 1 1 0 -1"],
    ["garbage numbers", SLEEP_STAT.replace(" 36366 ", " x ")],
  ])("refuses %s text", (_, text) => {
    expect(parseStat(text)).toBeUndefined();
  });
});

describe("parseStatmAnonymousPages", () => {
  const read = (text: string) => parseStatmAnonymousPages(Buffer.from(text, "latin1"), text.length);

  it("takes resident minus shared pages from a real line", () => {
    // A Node process: 24,576 pages resident, 11,520 of them file-backed (the node binary, libraries).
    expect(read("281364 24576 11520 11316 0 30254 0\n")).toBe(13056);
    expect(read("0 0 0 0 0 0 0\n")).toBe(0); // a zombie has no memory
  });

  it.each([["empty", ""], ["one field", "281364\n"], ["garbage", "281364 x 11520 11316 0 30254 0\n"]])("refuses %s text", (_, text) => {
    expect(read(text)).toBeUndefined();
  });
});

describe("parseCmdline and status", () => {
  it("joins NUL-separated arguments and drops the terminator and title padding", () => {
    expect(parseCmdline("npm\0exec\0@modelcontextprotocol/server-x\0")).toBe("npm exec @modelcontextprotocol/server-x");
    expect(parseCmdline("npm exec @modelcontextprotocol/server-x\0\0\0\0")).toBe("npm exec @modelcontextprotocol/server-x");
    expect(parseCmdline("")).toBe("");
  });

  it("costs linear time on a line of NULs (the regular expression it replaced was quadratic)", () => {
    const started = performance.now();
    expect(parseCmdline(`${"\0".repeat(64 * 1024)}x`)).toBe(`${" ".repeat(64 * 1024)}x`);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it("reads uid, VmRSS and CapEff from status, and uptime", () => {
    const status = "Name:\tnode\nUid:\t1001\t1001\t1001\t1001\nVmRSS:\t   51200 kB\nCapEff:\t0000000000000020\n";
    expect(parseStatusUid(status)).toBe(1001);
    expect(parseStatusRssKb(status)).toBe(51200);
    expect(parseStatusCapEff(status)).toBe(0x20n);
    expect(parseStatusRssKb("Name:\tzombie\n")).toBeUndefined();
    expect(parseUptime("350735.47 234388.90\n")).toBe(350735.47);
  });
});

describe.each([
  ["descriptors kept open", true],
  ["descriptors opened per read (the fallback when they run out)", false],
])("ProcReader on a fixture /proc, %s", (_, keepDescriptors) => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-proc-"));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("reads every process with its command line and RSS in bytes", () => {
    const processes = [...metamcpBase(), ...mcpGroup({ sid: 100 }), proc({ pid: 200, ppid: 1, cmd: "sh", state: "Z", sid: 1 })];
    writeProcTree(root, processes);
    fs.mkdirSync(path.join(root, "self")); // non-pid entries are skipped
    fs.writeFileSync(path.join(root, "meminfo"), "");
    const scanned = new ProcReader(root, PAGE, { keepDescriptors }).scan(undefined, 0);
    expect(scanned.uptimeSeconds).toBe(UPTIME);
    expect(scanned.processes.sort((a, b) => a.pid - b.pid)).toEqual(processes.sort((a, b) => a.pid - b.pid));
    expect(scanned).toMatchObject({ rssBytes: processes.reduce((sum, p) => sum + p.rssBytes, 0), anonymousRead: true });
  });

  it("reads anonymous memory only when the RSS sum reaches the level asked for, and afresh each time", () => {
    const node = proc({ pid: 40, ppid: 1, cmd: "node server.js", rssMiB: 100, anonMiB: 55 });
    const shell = proc({ pid: 41, ppid: 40, cmd: "sh -c x", rssMiB: 2, anonMiB: 0.5 });
    writeProcTree(root, [node, shell]);
    const reader = new ProcReader(root, PAGE, { keepDescriptors });
    const rss = node.rssBytes + shell.rssBytes;
    const below = reader.scan(undefined, rss + 1);
    expect(below).toMatchObject({ rssBytes: rss, anonymousRead: false });
    expect(below.processes.map((p) => p.anonymousBytes)).toEqual([0, 0]);
    expect(reader.scan(undefined, rss).processes.map((p) => p.anonymousBytes / 1024 ** 2)).toEqual([55, 0.5]);
    writeProcess(root, { ...node, anonymousBytes: 80 * 1024 ** 2 });
    expect(reader.scan(undefined, rss).processes[0].anonymousBytes).toBe(80 * 1024 ** 2);
    if (keepDescriptors) expect(reader.openDescriptors).toBe(4); // stat and statm of each
  });

  it("counts no anonymous memory for a process whose statm is gone", () => {
    writeProcTree(root, [proc({ pid: 42, ppid: 1, cmd: "sleep 1", rssMiB: 3 })]);
    fs.rmSync(path.join(root, "42", "statm"));
    expect(new ProcReader(root, PAGE, { keepDescriptors }).scan(undefined, 0).processes[0]).toMatchObject({ rssBytes: 3 * 1024 ** 2, anonymousBytes: 0 });
  });

  it("shows a zombie's command line as [comm], as ps does", () => {
    writeProcTree(root, [proc({ pid: 5, ppid: 1, cmd: "sleep 1", state: "Z" })]);
    expect(new ProcReader(root, PAGE, { keepDescriptors }).scan().processes[0].cmdline).toBe("[sleep]");
  });

  it("skips a process that vanished between the listing and the read", () => {
    writeProcTree(root, metamcpBase());
    fs.mkdirSync(path.join(root, "999")); // listed, but its files are gone (ENOENT)
    const scanned = new ProcReader(root, PAGE, { keepDescriptors }).scan();
    expect(scanned.processes.map((p) => p.pid)).not.toContain(999);
    expect(scanned.unreadable).toBe(0);
  });

  it("reads cmdline once per pid and start time, and again when the pid is reused", () => {
    const first = proc({ pid: 50, ppid: 1, cmd: "npm exec @modelcontextprotocol/server-a", age: 100 });
    writeProcTree(root, [first]);
    const reader = new ProcReader(root, PAGE, { keepDescriptors });
    expect(reader.scan().processes[0].cmdline).toBe("npm exec @modelcontextprotocol/server-a");

    // Same process, its cmdline file rewritten: the cached one stands (it is not read again).
    fs.writeFileSync(path.join(root, "50", "cmdline"), "changed\0");
    expect(reader.scan().processes[0].cmdline).toBe("npm exec @modelcontextprotocol/server-a");

    // The pid reused by a new process (later start time): read afresh.
    writeProcess(root, proc({ pid: 50, ppid: 1, cmd: "npm exec @modelcontextprotocol/server-b", age: 5 }));
    expect(reader.scan().processes[0].cmdline).toBe("npm exec @modelcontextprotocol/server-b");
  });

  it("reads cmdline again after an exec (same pid and start time, new name)", () => {
    const before = proc({ pid: 60, ppid: 1, cmd: "setsid npm exec @modelcontextprotocol/server-a" });
    writeProcTree(root, [before]);
    const reader = new ProcReader(root, PAGE, { keepDescriptors });
    reader.scan();
    writeProcess(root, { ...before, comm: "npm", cmdline: "npm exec @modelcontextprotocol/server-a" });
    expect(reader.scan().processes[0].cmdline).toBe("npm exec @modelcontextprotocol/server-a");
  });

  it("forgets processes that exited, so the cache does not grow with churn", () => {
    writeProcTree(root, [...metamcpBase(), ...mcpGroup({ sid: 100 })]);
    const reader = new ProcReader(root, PAGE, { keepDescriptors });
    expect([...reader.scan().byPid.keys()].sort((a, b) => a - b)).toEqual([1, 10, 11, 12, 100, 101, 102]);
    expect(reader.trackedProcesses).toBe(7);
    for (const pid of [100, 101, 102]) fs.rmSync(path.join(root, String(pid)), { recursive: true });
    const after = reader.scan();
    expect(reader.trackedProcesses).toBe(4);
    expect([...after.byPid.keys()].sort((a, b) => a - b)).toEqual([1, 10, 11, 12]);
    expect(after.processes.every((p) => after.byPid.get(p.pid) === p)).toBe(true);
  });

  it("re-reads one stat for the reaper, reporting a vanished process as gone", () => {
    writeProcTree(root, [proc({ pid: 70, ppid: 1, cmd: "sleep 100" })]);
    const reader = new ProcReader(root, PAGE, { keepDescriptors });
    expect(reader.readStat(70)).toMatchObject({ pid: 70, ppid: 1 });
    expect(reader.readStat(71)).toBe("gone");
  });

  it("hands out the same object for a process from scan to scan, updated in place", () => {
    const before = proc({ pid: 80, ppid: 1, cmd: "sleep 100", cpuTicks: 1 });
    writeProcTree(root, [before]);
    const reader = new ProcReader(root, PAGE, { keepDescriptors });
    const first = reader.scan().processes[0];
    writeProcess(root, { ...before, cpuTicks: 9 });
    const second = reader.scan().processes[0];
    expect(second).toBe(first);
    expect(second.cpuTicks).toBe(9);
  });

  it("keeps only the first COMMAND_LINE_LIMIT bytes of a command line, and says it was cut", () => {
    const long = proc({ pid: 90, ppid: 1, cmd: `npm exec @modelcontextprotocol/server-x ${"A".repeat(64 * 1024)}` });
    const short = proc({ pid: 91, ppid: 1, cmd: "x".repeat(COMMAND_LINE_LIMIT - 1) });
    writeProcTree(root, [long, short]);
    const [a, b] = new ProcReader(root, PAGE, { keepDescriptors }).scan().processes.sort((x, y) => x.pid - y.pid);
    expect(a.cmdline).toBe(long.cmdline.slice(0, COMMAND_LINE_LIMIT));
    expect(a.cmdlineTruncated).toBe(true);
    expect(b).toMatchObject({ cmdline: short.cmdline, cmdlineTruncated: false }); // with its terminator: exactly the limit
  });

  it("leaves command lines for the next scan once the budget is spent, and reads them then", () => {
    writeProcTree(root, [proc({ pid: 95, ppid: 1, cmd: "npm exec a" }), proc({ pid: 96, ppid: 1, cmd: "npm exec b" })]);
    const reader = new ProcReader(root, PAGE, { keepDescriptors });
    let reads = 0;
    const oneRead = { expired: () => reads++ >= 1 };
    const first = reader.scan(oneRead);
    expect(first.pendingCommandLines).toBe(1);
    expect(first.processes.map((p) => [p.pid, p.cmdline, p.cmdlinePending])).toEqual([
      [95, "npm exec a", false],
      [96, "[npm]", true],
    ]);
    const second = reader.scan();
    expect(second.pendingCommandLines).toBe(0);
    expect(second.processes.map((p) => [p.cmdline, p.cmdlinePending])).toEqual([
      ["npm exec a", false],
      ["npm exec b", false],
    ]);
  });

  it("detects this machine's page size from /proc/self", () => {
    expect(detectPageSize("/proc")).toBe(4096);
    expect(detectPageSize(root)).toBe(4096); // no self/: the fallback
  });
});

describe("listing /proc only when the namespace's pid counter moved", () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-proc-"));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("reads the last pid handed out from /proc/loadavg", () => {
    expect(parseLastPid("0.20 0.18 0.12 1/80 11206\n")).toBe(11206);
    expect(parseLastPid("0.20 0.18 0.12 1/80\n")).toBeUndefined();
    expect(parseLastPid("")).toBeUndefined();
  });

  /** A fixture /proc that passes for our own namespace's: its `self` names our pid, its loadavg the counter. */
  function ownProc(counter: number): ProcReader {
    writeProcTree(root, [proc({ pid: 40, ppid: 1, cmd: "sleep 1000" })]);
    fs.symlinkSync(String(process.pid), path.join(root, "self"));
    fs.writeFileSync(path.join(root, "loadavg"), `0.00 0.00 0.00 1/2 ${counter}\n`);
    // Opened per read: a fixture file removed stays readable through a kept descriptor, a real process's does not.
    return new ProcReader(root, PAGE, { keepDescriptors: false });
  }
  const pids = (reader: ProcReader) => reader.scan().processes.map((p) => p.pid).sort((a, b) => a - b);

  it("finds nothing new while the counter stands, and what is new once it moves", () => {
    const reader = ownProc(40);
    expect(pids(reader)).toEqual([40]);
    writeProcess(root, proc({ pid: 41, ppid: 40, cmd: "sleep 1000" })); // as if created without the counter moving
    expect(pids(reader)).toEqual([40]);
    fs.writeFileSync(path.join(root, "loadavg"), "0.00 0.00 0.00 1/3 41\n");
    expect(pids(reader)).toEqual([40, 41]);
  });

  it("still sees a known process exit while the counter stands", () => {
    const reader = ownProc(40);
    writeProcess(root, proc({ pid: 41, ppid: 40, cmd: "sleep 1000" }));
    fs.writeFileSync(path.join(root, "loadavg"), "0.00 0.00 0.00 1/3 41\n");
    expect(pids(reader)).toEqual([40, 41]);
    fs.rmSync(path.join(root, "41"), { recursive: true });
    expect(pids(reader)).toEqual([40]);
    expect(reader.trackedProcesses).toBe(1);
  });

  it(`lists at least every ${LIST_AT_LEAST_EVERY} scans, in case the counter came full circle`, () => {
    const reader = ownProc(40);
    reader.scan();
    writeProcess(root, proc({ pid: 41, ppid: 40, cmd: "sleep 1000" }));
    const seen = Array.from({ length: LIST_AT_LEAST_EVERY }, () => pids(reader).includes(41));
    expect(seen).toEqual([...Array(LIST_AT_LEAST_EVERY - 1).fill(false), true]);
  });

  it("always lists a /proc that is not of its own namespace", () => {
    const reader = ownProc(40);
    fs.rmSync(path.join(root, "self"));
    fs.symlinkSync("1", path.join(root, "self"));
    const other = new ProcReader(root, PAGE, { keepDescriptors: false });
    other.scan();
    writeProcess(root, proc({ pid: 41, ppid: 40, cmd: "sleep 1000" }));
    expect(pids(other)).toEqual([40, 41]);
    reader.close();
  });
});

describe("ProcReader on this machine's /proc", () => {
  it("finds a child process and its anonymous memory, then forgets it and closes its descriptors once it has exited", async () => {
    const child = spawn("sleep", ["30"]);
    const reader = new ProcReader("/proc", 4096);
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      const found = reader.scan(undefined, 0).processes.find((p) => p.pid === child.pid)!;
      expect(found).toMatchObject({ ppid: process.pid, comm: "sleep", cmdline: "sleep 30" });
      // sleep's resident pages are mostly libc and its own binary, mapped from files: not anonymous.
      expect(found.anonymousBytes).toBeGreaterThan(0);
      expect(found.anonymousBytes).toBeLessThan(found.rssBytes);
      const heldOpen = (file: string) =>
        fs.readdirSync("/proc/self/fd").some((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`) === `/proc/${child.pid}/${file}`;
          } catch {
            return false;
          }
        });
      expect(heldOpen("stat")).toBe(true);
      expect(heldOpen("statm")).toBe(true);
      child.kill();
      await new Promise((resolve) => child.once("exit", resolve));
      expect(reader.scan(undefined, 0).processes.some((p) => p.pid === child.pid)).toBe(false);
      expect(heldOpen("stat")).toBe(false);
      expect(heldOpen("statm")).toBe(false);
    } finally {
      child.kill();
      reader.close();
    }
    expect(reader.openDescriptors).toBe(0);
  });
});
