/**
 * The capacity model: MetaMCP's measured cost, and the limits and thresholds a stated capacity needs.
 * The rows are the sizing table of the README.
 */
import { describe, expect, it } from "vitest";
import {
  capacityProblems,
  derivedMemory,
  derivedPidsLimit,
  emergencyMemoryFor,
  emergencyTasksFor,
  METAMCP_COST,
  plannedLoad,
  type CapacityInput,
} from "../../infra/capacity";

const MIB = 1024 * 1024;

describe("plannedLoad", () => {
  it.each<[string, CapacityInput, { groups: number; idleTasks: number; tasks: number; memoryMiB: number }]>([
    // What was measured on MetaMCP 2.4.22: idle with 2 servers 93 tasks; 5 sessions on 2 servers 323.
    ["idle, one namespace of 2 servers", { sessions: 0, serversPerNamespace: 2, namespaces: 1 }, { groups: 2, idleTasks: 93, tasks: 93, memoryMiB: 960 }],
    ["5 sessions on 2 servers (measured: 323 tasks)", { sessions: 5, serversPerNamespace: 2, namespaces: 1 }, { groups: 12, idleTasks: 93, tasks: 323, memoryMiB: 2880 }],
    ["dev: 2 sessions on 2 servers", { sessions: 2, serversPerNamespace: 2, namespaces: 1 }, { groups: 6, idleTasks: 93, tasks: 185, memoryMiB: 1728 }],
    ["prod: 8 sessions on 2 servers", { sessions: 8, serversPerNamespace: 2, namespaces: 1 }, { groups: 18, idleTasks: 93, tasks: 461, memoryMiB: 4032 }],
    ["two namespaces keep two idle sets", { sessions: 1, serversPerNamespace: 3, namespaces: 2 }, { groups: 9, idleTasks: 185, tasks: 254, memoryMiB: 2304 }],
    ["groups given directly", { groups: 10 }, { groups: 10, idleTasks: 47, tasks: 277, memoryMiB: 2496 }],
  ])("%s", (_label, capacity, want) => {
    const load = plannedLoad(capacity);
    expect({ groups: load.groups, idleTasks: load.idleTasks, tasks: load.tasks, memoryMiB: load.memoryBytes / MIB }).toEqual(want);
  });
});

describe("derived limits and thresholds", () => {
  it.each<[string, CapacityInput, { pids: number; memoryMiB: number; emergencyTasks: number }]>([
    ["dev", { sessions: 2, serversPerNamespace: 2, namespaces: 1 }, { pids: 232, memoryMiB: 1792, emergencyTasks: 208 }],
    ["prod", { sessions: 8, serversPerNamespace: 2, namespaces: 1 }, { pids: 577, memoryMiB: 4096, emergencyTasks: 519 }],
    // A small load gets the minimum headroom: one group being spawned plus one health check.
    ["one group", { groups: 1 }, { pids: 70 + METAMCP_COST.group.tasks + 11, memoryMiB: 768, emergencyTasks: 87 }],
  ])("%s", (_label, capacity, want) => {
    const load = plannedLoad(capacity);
    const pids = derivedPidsLimit(load);
    expect({ pids, memoryMiB: derivedMemory(load) / MIB, emergencyTasks: emergencyTasksFor(load, pids) }).toEqual(want);
  });

  it("puts the emergency threshold above the load and below the cap", () => {
    for (const groups of [1, 5, 18, 100, 1000]) {
      const load = plannedLoad({ groups });
      const pids = derivedPidsLimit(load);
      const emergency = emergencyTasksFor(load, pids);
      expect({ aboveLoad: emergency > load.tasks, belowCap: emergency < pids }, `groups ${groups}`).toEqual({ aboveLoad: true, belowCap: true });
    }
  });

  it("sets the emergency memory threshold at 90% of the memory cap", () => {
    expect(emergencyMemoryFor(4096 * MIB)).toBe(Math.floor(4096 * MIB * 0.9));
  });
});

describe("capacityProblems", () => {
  const prod = plannedLoad({ sessions: 8, serversPerNamespace: 2, namespaces: 1 });

  it("accepts limits that hold the load, and nothing given", () => {
    expect([...capacityProblems({ load: prod, pidsLimit: 461, memoryBytes: 4096 * MIB }), ...capacityProblems({ load: prod })]).toEqual([]);
  });

  it("refuses the seed's 100 PIDs for prod's capacity, with the numbers", () => {
    expect(capacityProblems({ load: prod, pidsLimit: 100 })).toEqual([
      {
        key: "app.limits.pids",
        message:
          "100 cannot hold MetaMCP at app.capacity: its idle tree (47 tasks) plus 18 MCP server groups × 23 tasks need 461; " +
          "raise it, or leave it unset to get 577",
      },
    ]);
  });

  it("refuses memory that cannot hold the load, in the units people write", () => {
    expect(capacityProblems({ load: prod, memoryBytes: 2048 * MIB })).toEqual([
      {
        key: "app.limits.memory",
        message:
          "2g cannot hold MetaMCP at app.capacity: its idle tree (576 MiB) plus 18 MCP server groups × 192 MiB need 4032m; " +
          "raise it, or lower app.capacity",
      },
    ]);
  });

  it.each<[string, number, RegExp]>([
    ["at the idle load", 93, /93 is at or below MetaMCP's idle load \(93 tasks with no client\).*allowed: 94 to 576, or off/],
    ["below the idle load", 50, /50 is at or below MetaMCP's idle load/],
    ["at the PID cap", 577, /577 is at or above app.limits.pids \(577\): forks fail before the sweep starts/],
  ])("refuses an emergency threshold %s", (_label, emergencyTasks, message) => {
    const problems = capacityProblems({ load: prod, emergencyTasks });
    expect(problems.map((p) => p.key)).toEqual(["monitor.emergencyTasks"]);
    expect(problems[0].message).toMatch(message);
  });

  it("checks the emergency threshold against an explicit PID cap", () => {
    expect(capacityProblems({ load: prod, pidsLimit: 500, emergencyTasks: 520 })[0].message).toMatch(/at or above app.limits.pids \(500\)/);
  });
});
