/**
 * The emergency's memory measure against MetaMCP as it really uses memory, with the prod stack's own
 * monitor settings (its declared environment, read by the monitor's own parser).
 *
 * The figures are shaped like those measured on MetaMCP 2.4.22 (infra/capacity.ts,
 * emergencyMemoryFor): every Node process maps the node binary, ~41 MiB of it resident, which RSS
 * counts once per process and the memory cgroup charges once; the idle tree plus 2 server groups is
 * ~768 MiB of RSS but ~388 MiB of anonymous memory, and each group ~193 MiB RSS but ~110 MiB
 * anonymous. At the prod stack's planned load (the idle tree and 18 groups, app.capacity) the RSS
 * sum is over the threshold (90% of 4 GiB): compared with RSS, the emergency would sweep live
 * groups at planned capacity, each kill a crash to MetaMCP.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSettings, type Settings } from "../../monitor/src/config";
import { Monitor } from "../../monitor/src/monitor";
import { decide } from "../../monitor/src/policy";
import { ProcReader, type ProcessInfo } from "../../monitor/src/proc/reader";
import { classify } from "../../monitor/src/tree";
import { declareStack, named } from "../support/mocks";
import { classifyOptions, metamcpReal, PAGE, proc, table, writeProcTree } from "./support/fixtures";
import { parseExposition, sampleValue } from "./support/prom";

const MiB = 1024 ** 2;
/** The node binary's resident pages, mapped by every Node process. */
const NODE_BINARY_MIB = 41;
/** Anonymous memory of the real idle tree's processes, by pid (metamcpReal() holds their RSS). */
const IDLE_ANON_MIB: Record<number, number> = { 1: 0.25, 7: 0.5, 20: 40, 25: 45, 30: 38, 40: 0.5, 42: 44 };

/** MiB rounded to whole pages, as the kernel counts them. */
const pages = (mib: number) => Math.round((mib * MiB) / PAGE) * PAGE;

function idleTree(): ProcessInfo[] {
  return metamcpReal().map((p) => ({ ...p, anonymousBytes: pages(IDLE_ANON_MIB[p.pid]) }));
}

/** One stdio server as MetaMCP runs it: npm exec (Node) → sh → the server (Node), 23 tasks, ~193 MiB RSS, ~110 MiB anonymous. */
function serverGroup(index: number, serverAnonMiB = 49.5): ProcessInfo[] {
  const sid = 1000 + index * 10;
  return [
    proc({ pid: sid, ppid: 20, sid, cmd: `npm exec @modelcontextprotocol/server-${index}`, threads: 11, rssMiB: NODE_BINARY_MIB + 60, anonMiB: 60, age: 500 }),
    proc({ pid: sid + 1, ppid: sid, sid, cmd: `sh -c mcp-server-${index}`, rssMiB: 1.5, anonMiB: 0.5, age: 499 }),
    proc({
      pid: sid + 2,
      ppid: sid + 1,
      sid,
      cmd: `node /home/nextjs/.npm/_npx/${index}/node_modules/.bin/mcp-server-${index}`,
      threads: 11,
      rssMiB: NODE_BINARY_MIB + serverAnonMiB,
      anonMiB: serverAnonMiB,
      age: 499,
    }),
  ];
}

/** The monitor itself: in the namespace, left out of every sum. */
const MONITOR = proc({ pid: 900, ppid: 0, cmd: "node /app/dist/main.js", sid: 900, threads: 7, rssMiB: 60, anonMiB: 20 });

function metamcp(groups: number, changes: { serverAnonMiB?: Record<number, number>; extra?: ProcessInfo[] } = {}): ProcessInfo[] {
  const servers = Array.from({ length: groups }, (_, i) => serverGroup(i, changes.serverAnonMiB?.[i]));
  return [...idleTree(), ...servers.flat(), ...(changes.extra ?? []), MONITOR];
}

/** A plain process in a session of its own under PID 1 (matching no MCP pattern) that keeps allocating. */
const leakingHelper = (anonMiB: number) => proc({ pid: 5000, ppid: 1, sid: 5000, cmd: "python3 /tmp/convert.py", rssMiB: anonMiB + 8, anonMiB });

const sum = (processes: ProcessInfo[], pick: (p: ProcessInfo) => number) => processes.filter((p) => p !== MONITOR).reduce((s, p) => s + pick(p), 0);

describe("the emergency's memory measure at the prod stack's planned load", () => {
  let settings: Settings;
  let plannedGroups: number;

  beforeAll(async () => {
    const declared = await declareStack("prod");
    const envs: string[] = named(declared.resources, "monitor-container").inputs.envs;
    settings = loadSettings(Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])));
    plannedGroups = declared.config.app.load.groups;
  });

  it("has the prod stack's figures: 18 groups planned, the threshold 90% of 4 GiB", () => {
    expect(plannedGroups).toBe(18);
    expect(settings.emergencyAnonymousBytes).toBe(Math.floor(4 * 1024 ** 3 * 0.9));
  });

  it("is shaped like the real app: idle tree + 2 groups ~768 MiB RSS, ~388 MiB anonymous; a group ~193 and ~110", () => {
    const two = metamcp(2);
    expect(sum(two, (p) => p.rssBytes) / MiB).toBeCloseTo(768, -1);
    expect(sum(two, (p) => p.anonymousBytes) / MiB).toBeCloseTo(388, -1);
    expect(sum(serverGroup(0), (p) => p.rssBytes) / MiB).toBeCloseTo(193, 0);
    expect(sum(serverGroup(0), (p) => p.anonymousBytes) / MiB).toBeCloseTo(110, 0);
  });

  const rows: Array<{ name: string; processes: () => ProcessInfo[]; emergency: boolean; victims: number[] }> = [
    { name: "the idle tree", processes: () => metamcp(0), emergency: false, victims: [] },
    { name: "the idle tree and 2 groups (what was measured)", processes: () => metamcp(2), emergency: false, victims: [] },
    { name: "the planned load: the idle tree and 18 groups", processes: () => metamcp(18), emergency: false, victims: [] },
    {
      name: "the planned load with one server grown to 1.4 GiB of heap: still below",
      processes: () => metamcp(18, { serverAnonMiB: { 7: 1434 } }),
      emergency: false,
      victims: [],
    },
    {
      name: "the planned load with one server's heap run away to 1.7 GiB: that group alone goes",
      processes: () => metamcp(18, { serverAnonMiB: { 7: 1740 } }),
      emergency: true,
      victims: [1070],
    },
    {
      name: "the planned load and a helper of its own session run away to 1.7 GiB: the helper alone goes",
      processes: () => metamcp(18, { extra: [leakingHelper(1740)] }),
      emergency: true,
      victims: [5000],
    },
  ];

  it.each(rows)("$name", ({ processes, emergency, victims }) => {
    const snapshot = classify(table(processes()), classifyOptions());
    const output = decide({ nowMs: 0, snapshot, settings, memory: new Map(), reaping: new Set() });
    expect({ emergency: output.emergency, victims: output.decisions.map((d) => d.group.sid) }).toEqual({ emergency, victims });
  });

  it("would have swept live groups at the planned load had it compared the RSS sum", () => {
    const snapshot = classify(table(metamcp(plannedGroups)), classifyOptions());
    expect(snapshot.rssBytes).toBeGreaterThanOrEqual(settings.emergencyAnonymousBytes);
    expect(snapshot.anonymousBytes!).toBeLessThan(settings.emergencyAnonymousBytes * 0.9); // below even the release level
    expect(snapshot.tasks).toBeLessThan(settings.emergencyTasks);
  });
});

describe("the memory measure through the monitor, on a fixture /proc with the prod stack's settings", () => {
  let root: string;
  let lines: string[];
  let settings: Settings;

  beforeAll(async () => {
    const declared = await declareStack("prod");
    const envs: string[] = named(declared.resources, "monitor-container").inputs.envs;
    settings = loadSettings(Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function monitorOn(processes: ProcessInfo[]): Monitor {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-memory-"));
    writeProcTree(root, processes);
    lines = [];
    return new Monitor(
      { ...settings, dryRun: true },
      {
        reader: new ProcReader(root, PAGE),
        write: (line) => lines.push(line),
        kill: () => undefined,
        sleep: async () => undefined,
        now: () => 0,
        clock: () => new Date(0),
        selfPid: 900,
        selfRssBytes: () => 1,
      },
    );
  }
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  it("below 90% of the threshold in RSS, does not read anonymous memory at all", () => {
    const m = monitorOn(metamcp(2));
    m.tick();
    const metrics = parseExposition(m.metrics());
    expect(sampleValue(metrics, "metamcp_monitor_rss_bytes")).toBeGreaterThan(0);
    expect(() => sampleValue(metrics, "metamcp_monitor_anonymous_bytes")).toThrow();
  });

  it("at the planned load reads it (the RSS sum is over), reports it, and starts no emergency", () => {
    const processes = metamcp(18);
    const m = monitorOn(processes);
    m.tick();
    const metrics = parseExposition(m.metrics());
    expect(sampleValue(metrics, "metamcp_monitor_anonymous_bytes")).toBe(sum(processes, (p) => p.anonymousBytes));
    expect(sampleValue(metrics, "metamcp_monitor_emergency")).toBe(0);
    expect(records().filter((r) => r.event === "emergency-start" || r.event === "reap")).toEqual([]);
  });

  it("when a server runs away, says what it compared in the emergency-start line and names its victim", async () => {
    const processes = metamcp(18, { serverAnonMiB: { 7: 1740 } });
    const m = monitorOn(processes);
    m.tick();
    await m.idle();
    expect(records().find((r) => r.event === "emergency-start")).toMatchObject({
      anonymousBytes: sum(processes, (p) => p.anonymousBytes),
      rssBytes: sum(processes, (p) => p.rssBytes),
      emergencyAnonymousBytes: settings.emergencyAnonymousBytes,
    });
    expect(records().filter((r) => r.event === "reap")).toMatchObject([
      { sid: 1070, reason: "emergency", anonymousBytes: pages(60) + pages(0.5) + pages(1740), detail: expect.stringMatching(/MiB anonymous memory >= emergency threshold 3686\.4 MiB/) },
    ]);
  });
});
