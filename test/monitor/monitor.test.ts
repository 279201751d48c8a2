/**
 * The monitor's loop body end to end on a fixture /proc: scan, classify, decide, reap (with a kill()
 * that edits the fixture the way the kernel would), and the audit lines and metrics that result.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../monitor/src/config";
import { Monitor } from "../../monitor/src/monitor";
import type { ProcessInfo } from "../../monitor/src/proc/reader";
import { ProcReader } from "../../monitor/src/proc/reader";
import type { Signal } from "../../monitor/src/reaper";
import { mcpGroup, metamcpBase, PAGE, proc, writeProcess, writeProcTree } from "./support/fixtures";
import { parseExposition, sampleValue } from "./support/prom";

describe("Monitor on a fixture /proc", () => {
  let root: string;
  let processes: Map<number, ProcessInfo>;
  let lines: string[];
  let clock: number;
  let signals: string[];

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-loop-"));
    const all = [
      ...metamcpBase(),
      ...mcpGroup({ sid: 100 }),
      ...mcpGroup({ sid: 200, leaderAlive: false }),
      proc({ pid: 300, ppid: 10, cmd: "git status", sid: 1, pgid: 1, state: "Z" }),
      proc({ pid: 900, ppid: 0, cmd: "node /app/dist/main.js", sid: 900 }),
    ];
    processes = new Map(all.map((p) => [p.pid, p]));
    writeProcTree(root, all);
    lines = [];
    clock = 0;
    signals = [];
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function monitor(env: Record<string, string>): Monitor {
    const settings = loadSettings({ MONITOR_PROC_ROOT: root, MONITOR_ORPHAN_GRACE: "10s", MONITOR_KILL_GRACE: "2s", ...env });
    return new Monitor(settings, {
      reader: new ProcReader(root, PAGE),
      write: (line) => lines.push(line),
      // SIGTERM turns every member of the process group into a zombie, as a plain exit would.
      kill: (pid: number, signal: Signal) => {
        signals.push(`${signal} ${pid}`);
        for (const p of processes.values()) {
          if (p.pgid === -pid && p.state !== "Z") writeProcess(root, { ...p, state: "Z" });
        }
      },
      sleep: async (ms) => {
        clock += ms;
      },
      now: () => clock,
      clock: () => new Date(Date.UTC(2026, 0, 1) + clock),
      selfPid: 900,
      selfRssBytes: () => 1,
    });
  }

  const audit = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  it("reaps the orphaned group after the grace, leaves the live one, and logs each decision", async () => {
    const m = monitor({});
    m.tick();
    expect(signals).toEqual([]);
    clock = 10_000;
    m.tick();
    await m.idle();
    expect(signals).toEqual(["SIGTERM -200"]);
    const reap = audit().filter((r) => r.event === "reap");
    expect(reap).toEqual([
      {
        ts: "2026-01-01T00:00:10.000Z",
        event: "reap",
        pid: 201,
        pgid: 200,
        sid: 200,
        cmdline: "sh -c mcp-server-s200", // the first member matching a pattern, the leader gone,
        members: 2,
        state: "orphaned",
        ageSeconds: 599,
        rssBytes: 20 * 1024 * 1024, // sh 1 MiB + node 19 MiB; the leader that held the rest is gone
        reason: "orphaned",
        detail: "leader 200 has exited; orphaned for 10s >= grace 10s",
        signal: "SIGTERM",
        signals: ["SIGTERM"],
        outcome: "exited",
        dryRun: false,
        durationMs: 0,
      },
    ]);
    const metrics = parseExposition(m.metrics());
    expect(sampleValue(metrics, "metamcp_monitor_reaped_total", { reason: "orphaned" })).toBe(1);
    expect(sampleValue(metrics, "metamcp_monitor_mcp_groups", { state: "live" })).toBe(1);
  });

  it("reports each zombie once, with its parent, and whether the main server is there", () => {
    const m = monitor({});
    m.tick();
    m.tick();
    const events = audit();
    expect(events.filter((r) => r.event === "zombie")).toEqual([
      { ts: "2026-01-01T00:00:00.000Z", event: "zombie", pid: 300, ppid: 10, comm: "git", parentCmdline: "node dist/index.js" },
    ]);
    expect(events.filter((r) => r.event === "main-server-found")).toHaveLength(1);
  });

  it("in dry-run decides and logs the same, and signals nothing", async () => {
    const m = monitor({ MONITOR_DRY_RUN: "true", MONITOR_ORPHAN_GRACE: "0s" });
    m.tick();
    await m.idle();
    m.tick(); // decides the same again: logged once per group and reason
    await m.idle();
    expect(signals).toEqual([]);
    expect(audit().filter((r) => r.event === "reap")).toMatchObject([{ sid: 200, reason: "orphaned", outcome: "dry-run", signal: null, dryRun: true }]);
  });

  it("in dry-run logs an emergency's victim once, a group that is not an MCP server too", async () => {
    for (let i = 0; i < 30; i++) writeProcess(root, proc({ pid: 600 + i, ppid: i === 0 ? 1 : 600, cmd: "sleep 1000", sid: 600, pgid: 600 }));
    const m = monitor({ MONITOR_DRY_RUN: "true", MONITOR_EMERGENCY_TASKS: "60", MONITOR_EMERGENCY_FLOOR: "0" });
    for (let i = 0; i < 3; i++) {
      m.tick();
      await m.idle();
    }
    expect(signals).toEqual([]);
    expect(audit().filter((r) => r.event === "reap" && r.sid === 600)).toMatchObject([{ state: "other", reason: "emergency", outcome: "dry-run" }]);
  });

  it("is healthy only while scans keep coming", () => {
    const m = monitor({ MONITOR_INTERVAL: "1s" });
    expect(m.health().ok).toBe(false);
    m.tick();
    expect(m.health()).toEqual({ ok: true, detail: "ok" });
    clock = 3_000;
    expect(m.health()).toEqual({ ok: false, detail: "last scan 3000ms ago" });
  });

  it("keeps secrets out of every audit line and metric: reap records, their detail, zombies' parents", async () => {
    const secret = "postgresql://app:S3cretPassw0rd@db:5432/app --api-key=sk-live-4eC39HqLyjWDarjtT1zdp7dc";
    const wrapper = proc({ pid: 50, ppid: 1, cmd: `sh -c npm exec @modelcontextprotocol/server-postgres ${secret}`, sid: 1, pgid: 1 });
    const leaked = mcpGroup({ sid: 400, parent: 50, server: "postgres" });
    leaked[0] = { ...leaked[0], cmdline: `npm exec @modelcontextprotocol/server-postgres ${secret}` };
    const zombie = proc({ pid: 60, ppid: 50, cmd: "sh", sid: 1, pgid: 1, state: "Z" });
    for (const p of [wrapper, zombie, ...leaked]) {
      processes.set(p.pid, p);
      writeProcess(root, p);
    }
    const m = monitor({ MONITOR_ORPHAN_GRACE: "0s" });
    m.tick();
    await m.idle();
    const text = `${lines.join("")}${m.metrics()}`;
    for (const part of ["S3cretPassw0rd", "sk-live", "app:"]) expect(text).not.toContain(part);
    const reap = audit().find((r) => r.event === "reap" && r.sid === 400)!;
    expect(reap.cmdline).toBe("npm exec @modelcontextprotocol/server-postgres postgresql://***@db:5432/app --api-key=***");
    expect(reap.detail).toMatch(/^leader's parent is 50 \(sh -c npm exec @modelcontextprotocol\/server-postgres postgresql:\/\/\*\*\*@db/);
    expect(audit().find((r) => r.event === "zombie" && r.pid === 60)!.parentCmdline).toContain("--api-key=***");
  });

  it("warns once, in the log and a metric, when more than one process matches the main pattern", () => {
    const impostor = proc({ pid: 500, ppid: 1, cmd: "node dist/index.js", sid: 500 });
    writeProcess(root, impostor);
    const m = monitor({});
    m.tick();
    m.tick();
    expect(audit().filter((r) => r.event === "main-pattern-ambiguous")).toMatchObject([{ mainPid: 10, impostorPids: [500] }]);
    expect(audit().filter((r) => r.event === "main-server-found")).toMatchObject([{ pid: 10 }]);
    expect(sampleValue(parseExposition(m.metrics()), "metamcp_monitor_main_pattern_matches")).toBe(2);
  });

  it("logs an emergency's start and end, and the gauge holds meanwhile", async () => {
    // The base is 20 tasks, group 100 is 21, orphan 200 is 10, the zombie 1: 52 tasks. The orphan goes at once.
    const m = monitor({ MONITOR_EMERGENCY_TASKS: "50" });
    m.tick();
    await m.idle();
    expect(signals).toEqual(["SIGTERM -200"]);
    expect(sampleValue(parseExposition(m.metrics()), "metamcp_monitor_emergency")).toBe(1);
    for (const pid of [200, 201, 202]) fs.rmSync(path.join(root, String(pid)), { recursive: true, force: true });
    m.tick();
    expect(audit().filter((r) => String(r.event).startsWith("emergency"))).toMatchObject([
      { event: "emergency-start", tasks: 52, emergencyTasks: 50 },
      { event: "emergency-end", tasks: 42 }, // below 45, 90% of the threshold
    ]);
    expect(sampleValue(parseExposition(m.metrics()), "metamcp_monitor_emergency")).toBe(0);
  });

  it("cuts a scan short at its time budget, says so, and reads the rest next scan", () => {
    // Every read advances the clock: the budget (half the interval) runs out within the first scan.
    const reader = new ProcReader(root, PAGE);
    const scan = reader.scan.bind(reader);
    reader.scan = (budget, readAnonymousFrom) => scan({ expired: () => ((clock += 60), budget!.expired()) }, readAnonymousFrom);
    const m = new Monitor(loadSettings({ MONITOR_PROC_ROOT: root, MONITOR_INTERVAL: "1s" }), {
      reader,
      write: (line) => lines.push(line),
      kill: () => undefined,
      sleep: async () => undefined,
      now: () => clock,
      clock: () => new Date(0),
      selfPid: 900,
      selfRssBytes: () => 1,
    });
    m.tick();
    const metrics = parseExposition(m.metrics());
    expect(sampleValue(metrics, "metamcp_monitor_scans_cut_short_total")).toBe(1);
    expect(sampleValue(metrics, "metamcp_monitor_pending_command_lines")).toBeGreaterThan(0);
    expect(audit().filter((r) => r.event === "scan-cut-short")).toMatchObject([{ budgetMs: 500 }]);
    m.tick();
    m.tick();
    expect(sampleValue(parseExposition(m.metrics()), "metamcp_monitor_pending_command_lines")).toBe(0);
  });

  it("survives a scan that fails, and says so", () => {
    const m = monitor({});
    fs.rmSync(path.join(root, "uptime"));
    expect(m.tick()).toBeUndefined();
    expect(audit()).toMatchObject([{ event: "scan-error" }]);
    expect(sampleValue(parseExposition(m.metrics()), "metamcp_monitor_scan_errors_total")).toBe(1);
  });
});
