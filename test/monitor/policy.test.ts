/**
 * The reap policy as a table. Each row is a short history of scans (processes at a time) and the
 * decisions the LAST scan must produce, as [sid, reason] pairs in order.
 */
import { describe, expect, it } from "vitest";
import type { ProcessInfo } from "../../monitor/src/proc/reader";
import { anonymousMemoryGate, decide, type GroupMemory, type PolicyOutput, type PolicySettings, type ReapReason } from "../../monitor/src/policy";
import { classify, type TreeMemory } from "../../monitor/src/tree";
import { classifyOptions, mcpGroup, metamcpBase, proc, table, type GroupSpec } from "./support/fixtures";

const SETTINGS: PolicySettings = {
  orphanGraceMs: 30_000,
  maxGroups: 3,
  rssBudgetBytes: 0,
  emergencyTasks: 0,
  emergencyAnonymousBytes: 0,
  emergencyFloor: 1,
};

const OPTIONS = classifyOptions();

interface Scan {
  atMs: number;
  groups: GroupSpec[];
  extra?: ProcessInfo[];
}

/** Runs the scans through classify + decide, carrying both memories and the emergency; returns the last output. */
function run(scans: Scan[], settings: Partial<PolicySettings> = {}, reaping: number[] = []): PolicyOutput {
  let memory: ReadonlyMap<number, GroupMemory> = new Map();
  let treeMemory: TreeMemory | undefined;
  let output: PolicyOutput | undefined;
  for (const scan of scans) {
    const processes = [...metamcpBase(), ...scan.groups.flatMap(mcpGroup), ...(scan.extra ?? [])];
    const snapshot = classify(table(processes), OPTIONS, treeMemory);
    treeMemory = snapshot.memory;
    output = decide({
      nowMs: scan.atMs,
      snapshot,
      settings: { ...SETTINGS, ...settings },
      memory,
      reaping: new Set(reaping),
      emergency: output?.emergency,
    });
    memory = output.memory;
  }
  return output!;
}

/** A runaway: `count` plain processes in a session of their own under PID 1, matching no MCP pattern. */
function runaway(sid: number, count: number, more: { ppid?: number; inSession?: number } = {}): ProcessInfo[] {
  const session = more.inSession ?? sid;
  return Array.from({ length: count }, (_, i) =>
    proc({ pid: sid + i, ppid: i === 0 ? (more.ppid ?? 1) : sid, cmd: i === 0 ? "sh -c fork-forever" : "sleep 1000", sid: session, pgid: session, age: 60 }),
  );
}

const decided = (output: PolicyOutput) => output.decisions.map((d) => [d.group.sid, d.reason] as [number, ReapReason]);

const live = (sid: number, more: Partial<GroupSpec> = {}): GroupSpec => ({ sid, ...more });
const orphan = (sid: number, more: Partial<GroupSpec> = {}): GroupSpec => ({ sid, leaderAlive: false, ...more });

interface Row {
  name: string;
  scans: Scan[];
  settings?: Partial<PolicySettings>;
  reaping?: number[];
  expected: Array<[number, ReapReason]>;
}

const ROWS: Row[] = [
  { name: "nothing to do: live groups under the cap", scans: [{ atMs: 0, groups: [live(100), live(200)] }], expected: [] },
  {
    name: "an orphan seen for the first time is not reaped (grace starts now)",
    scans: [{ atMs: 0, groups: [orphan(100)] }],
    expected: [],
  },
  {
    name: "an orphan seen orphaned for less than the grace is kept",
    scans: [
      { atMs: 0, groups: [orphan(100)] },
      { atMs: 29_999, groups: [orphan(100)] },
    ],
    expected: [],
  },
  {
    name: "an orphan seen orphaned for the grace is reaped",
    scans: [
      { atMs: 0, groups: [orphan(100)] },
      { atMs: 30_000, groups: [orphan(100)] },
    ],
    expected: [[100, "orphaned"]],
  },
  {
    name: "the grace counts from when the group became orphaned, not from when it was first seen",
    scans: [
      { atMs: 0, groups: [live(100)] },
      { atMs: 25_000, groups: [orphan(100)] },
      { atMs: 50_000, groups: [orphan(100)] },
    ],
    expected: [],
  },
  {
    name: "a re-parented group (leader alive, server gone from its ancestry) is an orphan too",
    scans: [
      { atMs: 0, groups: [live(100, { parent: 1 })] },
      { atMs: 30_000, groups: [live(100, { parent: 1 })] },
    ],
    expected: [[100, "orphaned"]],
  },
  {
    name: "a zombie leader makes an orphan",
    scans: [
      { atMs: 0, groups: [live(100, { leaderZombie: true })] },
      { atMs: 31_000, groups: [live(100, { leaderZombie: true })] },
    ],
    expected: [[100, "orphaned"]],
  },
  {
    name: "a grace of 0 reaps an orphan on first sight",
    scans: [{ atMs: 0, groups: [orphan(100)] }],
    settings: { orphanGraceMs: 0 },
    expected: [[100, "orphaned"]],
  },
  {
    name: "a group already being reaped is not decided on again",
    scans: [
      { atMs: 0, groups: [orphan(100)] },
      { atMs: 30_000, groups: [orphan(100)] },
    ],
    reaping: [100],
    expected: [],
  },
  {
    name: "live groups are never reaped for being old while under the cap",
    scans: [{ atMs: 0, groups: [live(100, { age: 86_400 }), live(200, { age: 86_400 })] }],
    expected: [],
  },
  {
    name: "over the cap: the idlest go first (CPU unchanged), down to the cap",
    scans: [
      { atMs: 0, groups: [live(100, { cpuTicks: 1 }), live(200, { cpuTicks: 1 }), live(300, { cpuTicks: 1 }), live(400, { cpuTicks: 1 }), live(500, { cpuTicks: 1 })] },
      // 100 and 400 used CPU since; 200, 300, 500 did not.
      { atMs: 5_000, groups: [live(100, { cpuTicks: 9 }), live(200, { cpuTicks: 1 }), live(300, { cpuTicks: 1 }), live(400, { cpuTicks: 5 }), live(500, { cpuTicks: 1 })] },
    ],
    expected: [
      [200, "over-cap"],
      [300, "over-cap"],
    ],
  },
  {
    name: "over the cap with equal idleness: the oldest go first",
    scans: [{ atMs: 0, groups: [live(100, { age: 50 }), live(200, { age: 500 }), live(300, { age: 5 }), live(400, { age: 5000 })] }],
    expected: [[400, "over-cap"]],
  },
  {
    name: "a group first seen this scan counts as just active, so it goes last",
    scans: [
      { atMs: 0, groups: [live(100), live(200), live(300)] },
      { atMs: 5_000, groups: [live(100), live(200), live(300), live(400, { age: 99_999 })] },
    ],
    expected: [[100, "over-cap"]],
  },
  {
    name: "orphans do not count towards the cap",
    scans: [
      { atMs: 0, groups: [live(100), live(200), live(300), orphan(400), orphan(500)] },
    ],
    expected: [],
  },
  {
    name: "a group being reaped does not count towards the cap",
    scans: [{ atMs: 0, groups: [live(100, { age: 9000 }), live(200), live(300), live(400)] }],
    reaping: [100],
    expected: [],
  },
  {
    name: "over the RSS budget: the idlest go until the rest fit",
    scans: [
      { atMs: 0, groups: [live(100, { rssMiB: 60, age: 300 }), live(200, { rssMiB: 60, age: 200 }), live(300, { rssMiB: 60, age: 100 })] },
    ],
    settings: { rssBudgetBytes: 100 * 1024 ** 2 },
    expected: [
      [100, "over-rss-budget"],
      [200, "over-rss-budget"],
    ],
  },
  {
    name: "under the RSS budget nothing is reaped for it",
    scans: [{ atMs: 0, groups: [live(100, { rssMiB: 60 }), live(200, { rssMiB: 60 })] }],
    settings: { rssBudgetBytes: 120 * 1024 ** 2 },
    expected: [],
  },
  {
    name: "cap and budget together: the cap's victims no longer count against the budget",
    scans: [{ atMs: 0, groups: [live(100, { rssMiB: 90, age: 400 }), live(200, { rssMiB: 30, age: 300 }), live(300, { rssMiB: 30, age: 200 }), live(400, { rssMiB: 30, age: 100 })] }],
    settings: { rssBudgetBytes: 90 * 1024 ** 2 },
    expected: [[100, "over-cap"]],
  },
  {
    name: "emergency: every orphan at once (no grace), and no live group while that suffices",
    scans: [{ atMs: 0, groups: [live(100, { age: 300 }), live(200, { age: 200 }), live(300, { age: 100 }), orphan(400)] }],
    // metamcpBase is 20 tasks, each group 21 (leader 11 + sh 1 + node 9), the orphan 10: 93. Release below 84.
    settings: { emergencyTasks: 93, emergencyFloor: 1 },
    expected: [[400, "emergency"]],
  },
  {
    name: "emergency: then the heaviest groups, idlest and oldest first among equals, until below 90% of the threshold",
    scans: [{ atMs: 0, groups: [live(100, { age: 300 }), live(200, { age: 200 }), live(300, { age: 100 })] }],
    // 83 tasks; release below 57 (90% of 63): 100 leaves 62, 200 leaves 41.
    settings: { emergencyTasks: 63, emergencyFloor: 1 },
    expected: [
      [100, "emergency"],
      [200, "emergency"],
    ],
  },
  {
    name: "emergency: among groups of about the same weight, the idlest goes first, not the busy one a few tasks heavier",
    scans: [
      { atMs: 0, groups: [live(100, { cpuTicks: 0 }), live(200, { cpuTicks: 0 })], extra: runaway(600, 3, { ppid: 102 }) },
      // 100 serves the session in use (its CPU moves) and holds 24 tasks; 200 is idle with 21.
      { atMs: 5_000, groups: [live(100, { cpuTicks: 50 }), live(200, { cpuTicks: 0 })], extra: runaway(600, 3, { ppid: 102 }) },
    ],
    // 20 + 24 + 21 = 65 tasks >= 60; without 200, 44 < 54.
    settings: { emergencyTasks: 60, emergencyFloor: 0 },
    expected: [[200, "emergency"]],
  },
  {
    name: "emergency: a group far heavier than the rest goes first, however busy",
    scans: [
      { atMs: 0, groups: [live(100, { cpuTicks: 0 }), live(200, { cpuTicks: 0 })], extra: runaway(600, 30, { ppid: 102 }) },
      { atMs: 5_000, groups: [live(100, { cpuTicks: 50 }), live(200, { cpuTicks: 0 })], extra: runaway(600, 30, { ppid: 102 }) },
    ],
    // 20 + 51 + 21 = 92 tasks >= 80; without 100, 41 < 72.
    settings: { emergencyTasks: 80, emergencyFloor: 0 },
    expected: [[100, "emergency"]],
  },
  {
    name: "emergency: a runaway in a session of its own (no MCP pattern) goes first, and alone when that suffices",
    scans: [{ atMs: 0, groups: [live(100), live(200)], extra: runaway(600, 40) }],
    // 20 + 42 + 40 = 102 tasks >= 90; without the runaway's 40, 62 < 81.
    settings: { emergencyTasks: 90, emergencyFloor: 0 },
    expected: [[600, "emergency"]],
  },
  {
    name: "emergency: a runaway that descends from a live group makes that group the heaviest",
    scans: [{ atMs: 0, groups: [live(100), live(200, { age: 9000 })], extra: runaway(600, 40, { ppid: 102 }) }],
    settings: { emergencyTasks: 90, emergencyFloor: 0 },
    expected: [[100, "emergency"]],
  },
  {
    name: "emergency on memory: the heaviest holder of anonymous memory first",
    scans: [{ atMs: 0, groups: [live(100, { rssMiB: 30, age: 900 }), live(200, { rssMiB: 300 }), live(300, { rssMiB: 30, age: 800 })] }],
    // metamcpBase holds 230 MiB: 590 MiB in all >= 500 MiB; without group 200, 290 MiB < 450 MiB.
    settings: { emergencyAnonymousBytes: 500 * 1024 ** 2, emergencyFloor: 0 },
    expected: [[200, "emergency"]],
  },
  {
    name: "emergency: a group being reaped counts as gone, so no second victim while the first exits",
    scans: [{ atMs: 0, groups: [live(100), live(200)], extra: runaway(600, 40) }],
    settings: { emergencyTasks: 90, emergencyFloor: 0 },
    reaping: [600],
    expected: [],
  },
  {
    name: "emergency: the floor keeps live groups, even when that does not end the emergency",
    scans: [{ atMs: 0, groups: [live(100, { age: 300 }), live(200, { age: 200 }), live(300, { age: 100 })] }],
    settings: { emergencyTasks: 1, emergencyFloor: 2 },
    expected: [[100, "emergency"]],
  },
  {
    name: "emergency with a floor above the cap keeps only the cap",
    scans: [{ atMs: 0, groups: [live(100, { age: 400 }), live(200, { age: 300 }), live(300, { age: 200 }), live(400, { age: 100 })] }],
    settings: { emergencyTasks: 1, emergencyFloor: 10, maxGroups: 3 },
    expected: [[100, "emergency"]],
  },
  {
    name: "emergency: never PID 1's or the main server's session, whatever runs away in it",
    scans: [{ atMs: 0, groups: [live(100)], extra: runaway(600, 50, { ppid: 10, inSession: 1 }) }],
    settings: { emergencyTasks: 50, emergencyFloor: 0 },
    expected: [[100, "emergency"]],
  },
  {
    name: "emergency holds below its threshold until below the release level (hysteresis), and sweeps again",
    scans: [
      // 104 tasks >= 90: 100 and 200 go (62 < 81).
      { atMs: 0, groups: [live(100, { age: 900 }), live(200, { age: 800 }), live(300, { age: 700 }), live(400, { age: 600 })] },
      // They are gone and a new group came: 83 tasks, under 90 but not below 81, so the emergency holds.
      { atMs: 5_000, groups: [live(300, { age: 700 }), live(400, { age: 600 }), live(500, { age: 1 })] },
    ],
    settings: { emergencyTasks: 90, emergencyFloor: 0, maxGroups: "off" },
    expected: [[300, "emergency"]],
  },
  {
    name: "an emergency ends below the release level, and the normal rules apply again",
    scans: [
      { atMs: 0, groups: [live(100, { age: 900 }), live(200, { age: 800 }), live(300, { age: 700 }), live(400, { age: 600 })] },
      { atMs: 5_000, groups: [live(300, { age: 700 }), live(400, { age: 600 })] },
    ],
    settings: { emergencyTasks: 90, emergencyFloor: 0, maxGroups: 1 },
    expected: [[300, "over-cap"]],
  },
  {
    name: "just below the emergency threshold the normal rules apply",
    scans: [{ atMs: 0, groups: [live(100), live(200), live(300), orphan(400)] }],
    settings: { emergencyTasks: 94 },
    expected: [],
  },
  {
    name: "an emergency threshold of 0 is off",
    scans: [{ atMs: 0, groups: [live(100), live(200), live(300), orphan(400)] }],
    settings: { emergencyTasks: 0, emergencyAnonymousBytes: 0, emergencyFloor: 0 },
    expected: [],
  },
  {
    name: "a cap of off keeps every live group",
    scans: [{ atMs: 0, groups: [live(100), live(200), live(300), live(400), live(500)] }],
    settings: { maxGroups: "off" },
    expected: [],
  },
  {
    name: "outside an emergency, processes outside MCP groups are never decided on, whatever the cap and budget",
    scans: [
      {
        atMs: 0,
        groups: [],
        extra: [proc({ pid: 600, ppid: 1, cmd: "sleep 1000", sid: 600 }), proc({ pid: 601, ppid: 10, cmd: "git fetch", sid: 1, pgid: 1 })],
      },
    ],
    settings: { emergencyTasks: 0, emergencyFloor: 0, maxGroups: 0, rssBudgetBytes: 1 },
    expected: [],
  },
];

describe("decide", () => {
  it.each(ROWS)("$name", ({ scans, settings, reaping, expected }) => {
    expect(decided(run(scans, settings, reaping))).toEqual(expected);
  });

  it("says why, with the numbers", () => {
    const output = run(
      [
        { atMs: 0, groups: [orphan(100)] },
        { atMs: 45_000, groups: [orphan(100)] },
      ],
    );
    expect(output.decisions[0].detail).toBe("leader 100 has exited; orphaned for 45s >= grace 30s");
    const capped = run([{ atMs: 0, groups: [live(100), live(200), live(300), live(400)] }]);
    expect(capped.decisions[0].detail).toBe("4 live groups > cap 3");
    const emergency = run([{ atMs: 0, groups: [live(100), live(200)] }], { emergencyTasks: 50, emergencyFloor: 1 });
    expect(emergency.emergency).toBe(true);
    expect(emergency.decisions[0].detail).toBe("62 tasks >= emergency threshold 50; live MCP group, holds 21 tasks and 30.0 MiB anonymous memory (30.0 MiB RSS)");
    const runaways = run([{ atMs: 0, groups: [live(100)], extra: runaway(600, 40) }], { emergencyTasks: 50, emergencyAnonymousBytes: 64 * 1024 ** 2 });
    expect(runaways.decisions[0].detail).toBe(
      "81 tasks >= emergency threshold 50, 660.0 MiB anonymous memory >= emergency threshold 64.0 MiB; not an MCP server, holds 40 tasks and 400.0 MiB anonymous memory (400.0 MiB RSS)",
    );
    const holding = run(
      [
        { atMs: 0, groups: [live(100), live(200), live(300), live(400)] },
        { atMs: 5_000, groups: [live(300), live(400), live(500)] },
      ],
      { emergencyTasks: 90, emergencyFloor: 0 },
    );
    expect(holding.decisions[0].detail).toMatch(/^83 tasks, not yet below 81 since the emergency threshold 90; /);
  });

  it("needs anonymous memory read only from the release level of its threshold up, and never when it is off", () => {
    expect(anonymousMemoryGate({ emergencyAnonymousBytes: 1000 })).toBe(900);
    expect(anonymousMemoryGate({ emergencyAnonymousBytes: 0 })).toBe(Infinity);
  });

  it("on a scan that did not read anonymous memory, bounds it by RSS: below the gate, no emergency", () => {
    const processes = [...metamcpBase(), ...mcpGroup({ sid: 100 })];
    const rssBytes = processes.reduce((sum, p) => sum + p.rssBytes, 0);
    const threshold = Math.ceil(rssBytes / 0.9) + 1; // the RSS sum is just below the gate
    const snapshot = classify({ ...table(processes), anonymousRead: false }, OPTIONS);
    expect(snapshot.anonymousBytes).toBeUndefined();
    expect(snapshot.groups[0].anonymousBytes).toBeUndefined();
    expect(rssBytes).toBeLessThan(anonymousMemoryGate({ emergencyAnonymousBytes: threshold }));
    const settings = { ...SETTINGS, emergencyAnonymousBytes: threshold, emergencyFloor: 0 };
    expect(decide({ nowMs: 0, snapshot, settings, memory: new Map(), reaping: new Set(), emergency: true })).toMatchObject({ emergency: false, decisions: [] });
  });

  it("says when an emergency cannot be ended by what it may reap", () => {
    const protectedRunaway = run([{ atMs: 0, groups: [live(100)], extra: runaway(600, 50, { ppid: 10, inSession: 1 }) }], {
      emergencyTasks: 50,
      emergencyFloor: 1,
    });
    expect(protectedRunaway).toMatchObject({ emergency: true, unresolved: true, decisions: [] });
    expect(run([{ atMs: 0, groups: [live(100)], extra: runaway(600, 40) }], { emergencyTasks: 50, emergencyFloor: 1 }).unresolved).toBe(false);
  });

  it("forgets groups that are gone, and starts afresh for a new group that reuses a session id", () => {
    const first = run([{ atMs: 0, groups: [orphan(100)] }]);
    expect([...first.memory.keys()]).toEqual([100]);
    const after = run([
      { atMs: 0, groups: [orphan(100)] },
      { atMs: 5_000, groups: [] },
    ]);
    expect(after.memory.size).toBe(0);

    // Old session 100 (leader gone) vanished and a new, live session took the id within one interval.
    const reused = run([
      { atMs: 0, groups: [live(100, { age: 600 })] },
      { atMs: 5_000, groups: [live(100, { age: 2 })] },
    ]);
    expect(reused.memory.get(100)).toMatchObject({ firstSeenMs: 5_000, lastActiveMs: 5_000 });
  });

  it("is pure: the memory passed in is not changed", () => {
    const memory = run([{ atMs: 0, groups: [live(100, { cpuTicks: 1 })] }]).memory;
    const copy = structuredClone(memory);
    const snapshot = classify(table([...metamcpBase(), ...mcpGroup({ sid: 100, cpuTicks: 5 })]), OPTIONS);
    decide({ nowMs: 5_000, snapshot, settings: SETTINGS, memory, reaping: new Set() });
    expect(memory).toEqual(copy);
  });

  it("hands back the memory it was given when no group has news, and a new one when one has", () => {
    const memory = run([{ atMs: 0, groups: [live(100, { cpuTicks: 1 }), live(200)] }]).memory;
    const decideOn = (groups: GroupSpec[]) =>
      decide({ nowMs: 5_000, snapshot: classify(table([...metamcpBase(), ...groups.flatMap(mcpGroup)]), OPTIONS), settings: SETTINGS, memory, reaping: new Set() }).memory;
    expect(decideOn([live(100, { cpuTicks: 1 }), live(200)])).toBe(memory);
    const moved = decideOn([live(100, { cpuTicks: 2 }), live(200)]);
    expect(moved).not.toBe(memory);
    expect(moved.get(100)).toMatchObject({ cpuTicks: 2, lastActiveMs: 5_000 });
    expect(moved.get(200)).toBe(memory.get(200));
    expect([...decideOn([live(100, { cpuTicks: 1 })]).keys()]).toEqual([100]); // a group gone: forgotten
  });
});
