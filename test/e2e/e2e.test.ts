/** npm run e2e:metamcp's pure parts: its arguments, and what makes a run pass. */
import { describe, expect, it } from "vitest";
import { parseArgs } from "../../e2e/metamcp";
import { judge, type Figures } from "../../e2e/report";

describe("parseArgs", () => {
  const required = ["--image", "metamcp:2.4.22", "--database-url", "postgresql://u:p@127.0.0.1/db"];

  it("takes the image and the database, with defaults for the rest", () => {
    expect(parseArgs(required, {})).toMatchObject({ image: "metamcp:2.4.22", guardPort: 12108, monitorMetricsPort: 12109, guardMetricsPort: 12110, rounds: 6, faults: false, keep: false });
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
