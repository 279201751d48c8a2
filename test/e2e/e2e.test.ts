/** npm run e2e:metamcp's pure parts: its arguments, and what makes a run pass. */
import { describe, expect, it } from "vitest";
import { parseArgs } from "../../e2e/metamcp";
import { peakSessions, planRounds, sessionsHeld } from "../../e2e/plan";
import { declare } from "../../e2e/stack";
import { REPO_ROOT } from "../support/stackFiles";
import { judge, type Figures } from "../../e2e/report";

describe("parseArgs", () => {
  const required = ["--image", "metamcp:2.4.22", "--database-url", "postgresql://u:p@127.0.0.1/db"];

  it("takes the image and the database, with defaults for the rest", () => {
    expect(parseArgs(required, {})).toMatchObject({ image: "metamcp:2.4.22", guardPort: 12108, monitorMetricsPort: 12109, guardMetricsPort: 12110, faults: false, keep: false });
    expect(parseArgs(required, {})).not.toHaveProperty("rounds");
  });

  it("takes --rounds as given", () => {
    expect(parseArgs([...required, "--rounds", "9"], {})).toMatchObject({ rounds: 9 });
  });

  it("reads the database from E2E_DATABASE_URL", () => {
    expect(parseArgs(["--image", "x:1"], { E2E_DATABASE_URL: "postgresql://e" })).toMatchObject({ databaseUrl: "postgresql://e" });
  });

  it.each<[string, string[], RegExp]>([
    ["no image", ["--database-url", "postgresql://x"], /--image is required/],
    ["no database", ["--image", "x:1"], /--database-url \(or E2E_DATABASE_URL\) is required/],
    ["a port out of range", [...required, "--port", "80"], /--port 80 is not a whole number from 1024 to 65533/],
    ["a flag without its value", ["--image"], /--image needs a value/],
    ["an unknown option", [...required, "--fast"], /unknown option --fast/],
    ["a source tree to build from", [...required, "--source", "/tmp/metamcp"], /--source is not offered/],
  ])("refuses %s", (_label, argv, message) => {
    expect(() => parseArgs(argv, {})).toThrow(message);
  });

  it("answers --help and --down whatever else is given", () => {
    expect([parseArgs(["--help"], {}), parseArgs(["--down"], {})]).toEqual(["help", "down"]);
  });
});

describe("rounds sized from the stack's capacity", () => {
  // Pulumi.prod.yaml: 8 sessions on 1 namespace of 2 servers = 18 groups; a 30 m idle timeout, 10 s sweep.
  const PROD_LEAK = 30 * 60 + 10;
  // The quick copy the README suggests: 12 sessions, a 2 m idle timeout.
  const QUICK_LEAK = 2 * 60 + 10;

  it("reads the groups the stack file plans for: Pulumi.prod.yaml's 18", async () => {
    const options = { image: "metamcp:2.4.22", databaseUrl: "postgresql://u:p@127.0.0.1/db", stackFile: `${REPO_ROOT}/Pulumi.prod.yaml` };
    const declared = await declare({ ...options, nodeImage: "node:20-alpine", guardPort: 12108, guardMetricsPort: 12110, monitorMetricsPort: 12109 });
    expect(declared.plannedGroups).toBe(18);
  });

  it.each<[string, number, number, number]>([
    ["prod's 18 groups on 2 servers per session", 18, 2, 8],
    ["the idle set alone", 2, 2, 0],
    ["groups that do not make a whole session", 5, 2, 1],
    ["no groups", 0, 2, 0],
  ])("%s hold the sessions left over from the idle set", (_label, groups, servers, sessions) => {
    expect(sessionsHeld(groups, servers)).toBe(sessions);
  });

  it.each<[string, number, number, number]>([
    ["one round", 1, PROD_LEAK, 4],
    ["every round's leaks alive at once", 6, PROD_LEAK, 14],
    ["leaks of two rounds at most, with a 15 s lifetime", 6, 15, 6],
    ["no rounds: the session in use and a clean close", 0, PROD_LEAK, 2],
  ])("%s keeps the sessions open that the peak counts", (_label, rounds, leak, peak) => {
    expect(peakSessions(rounds, leak)).toBe(peak);
  });

  it.each<[string, number, number, number]>([
    ["prod's 8 sessions with a 30 m idle timeout", 8, PROD_LEAK, 3],
    ["the quick copy's 12 sessions with 2 m", 12, QUICK_LEAK, 5],
    ["a capacity that holds every round", 40, PROD_LEAK, 6],
    ["leaks that end within two rounds", 6, 15, 6],
  ])("by default makes as many rounds as %s hold, up to six", (_label, held, leak, rounds) => {
    expect(planRounds(undefined, held, leak)).toEqual({ rounds, sessionsHeld: held, peakSessions: peakSessions(rounds, leak) });
  });

  it("makes the rounds asked for, and says when they go past the capacity", () => {
    expect(planRounds(6, 8, PROD_LEAK).pastCapacity).toBe(
      "6 rounds keep up to 14 MCP sessions open and the stack's app.capacity holds 8: expect the monitor's emergency sweep to reap live groups (3 rounds fit)",
    );
  });

  it("says nothing of the capacity when the rounds asked for fit", () => {
    expect(planRounds(2, 8, PROD_LEAK)).not.toHaveProperty("pastCapacity");
  });

  it("refuses a stack that holds not even one round, naming what one needs", () => {
    expect(() => planRounds(undefined, 3, PROD_LEAK)).toThrow(
      "the stack's app.capacity holds 3 MCP sessions on the e2e's namespace, and one round needs 4 (the session in use, a clean close, 2 abandoned): give the stack file more capacity, or pass --rounds to go past it",
    );
  });
});

describe("judge", () => {
  const passing: Figures = {
    image: "metamcp:2.4.22",
    stackFile: "Pulumi.prod.yaml",
    declared: { appPids: 577, appMemoryMiB: 4096, idleTimeout: "2m", sweepInterval: "10s", monitorInterval: "5s", maxAttempts: "3", sessionLifetime: "86400000", emergencyTasks: "519" },
    clients: { abandoned: 12, closed: 6, sseDropped: 6 },
    baselineGroups: 4,
    peakGroups: 11,
    leak: { lastAbandonAt: 187, backToBaselineAt: 290, boundSeconds: 135 },
    samples: [],
    guard: { endedIdle: 12, endedByClient: 6, deletesOk: 12, deletesFailed: 0 },
    monitor: { reaps: [], records: 2 },
    inUse: { calls: 180, failed: 0, failedInFaults: 0, reconnects: 0, tools: 27 },
    serversInError: [],
    forkFailures: 0,
    keeperStarts: 0,
    crashesCounted: 0,
  };

  it("passes a run that met every figure", () => {
    expect(judge(passing)).toEqual([]);
  });

  it.each<[string, Partial<Figures>, RegExp]>([
    ["a server marked ERROR", { serversInError: ["everything"] }, /MetaMCP marked everything ERROR/],
    ["a failed call in the session in use", { inUse: { ...passing.inUse, failed: 1 } }, /1 tool calls of the session in use failed/],
    ["EAGAIN in MetaMCP's log", { forkFailures: 2 }, /could not be made \(EAGAIN\)/],
    ["a crash MetaMCP counted", { crashesCounted: 1 }, /MetaMCP counted 1 server crashes/],
    ["groups that took longer than the bound", { leak: { lastAbandonAt: 100, backToBaselineAt: 300, boundSeconds: 135 } }, /took 200 s to go, over the bound of 135 s/],
    ["groups that never went", { leak: { lastAbandonAt: 100, boundSeconds: 135 } }, /never went away/],
    [
      "emergency reaps, named as load past the declared capacity",
      { monitor: { reaps: ["emergency", "orphaned", "emergency"], records: 5 } },
      /the monitor reaped 2 groups in an emergency: the load went past the stack's app\.capacity \(its sweep starts at 519 tasks\)/,
    ],
    ["abandoned sessions the guard did not end", { guard: { ...passing.guard, endedIdle: 10 } }, /the guard ended 10 of 12 abandoned sessions/],
  ])("fails %s", (_label, change, message) => {
    expect(judge({ ...passing, ...change }).join("\n")).toMatch(message);
  });

  it("counts calls that failed during the faults apart: a backend killed on purpose is no failure of the run", () => {
    expect(judge({ ...passing, inUse: { ...passing.inUse, failedInFaults: 5 }, faults: {} })).toEqual([]);
  });
});
