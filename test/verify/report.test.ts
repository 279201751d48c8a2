/** The table people read and the JSON machines read, from one report. */
import { describe, expect, it } from "vitest";
import type { VerifyReport } from "../../infra/verify";
import { formatJson, formatTable } from "../../infra/verify/report";

const report: VerifyReport = {
  stack: "dev",
  dockerHost: "tcp://host:2375",
  kernelReadable: false,
  ok: false,
  rows: [
    { role: "app", container: "metamcp-dev", setting: "Memory", wanted: "1g", inForce: "2g", status: "mismatch" },
    { role: "app", container: "metamcp-dev", setting: "pids.max (kernel)", wanted: "64", inForce: "not readable: tcp:// engine", status: "unreadable" },
    { role: "app", container: "metamcp-dev", setting: "Healthcheck", wanted: JSON.stringify(["CMD", "x".repeat(100)]), inForce: "none", status: "mismatch" },
    { role: "db", container: "metamcp-dev-postgres", setting: "Container", wanted: "metamcp-dev-postgres", inForce: "missing", status: "missing" },
  ],
};

describe("formatTable", () => {
  const table = formatTable(report);
  const lines = table.split("\n");

  it("has the columns container, setting, wanted, in force, ok, and one line per row", () => {
    expect(lines[0].split(/\s{2,}/)).toEqual(["container", "setting", "wanted", "in force", "ok"]);
    expect(lines[2].split(/\s{2,}/)).toEqual(["metamcp-dev", "Memory", "1g", "2g", "MISMATCH"]);
    expect(lines[3].split(/\s{2,}/)).toEqual(["metamcp-dev", "pids.max (kernel)", "64", "not readable: tcp:// engine", "n/a"]);
    expect(lines[5].split(/\s{2,}/)).toEqual(["metamcp-dev-postgres", "Container", "metamcp-dev-postgres", "missing", "MISSING"]);
  });

  it("cuts long values to keep the table readable", () => {
    expect(lines[4]).toContain("…");
    expect(lines[4].length).toBeLessThan(200);
  });

  it("ends with the verdict and, when remote, a note that the kernel was not read", () => {
    expect(table).toContain("FAILED: stack dev on tcp://host:2375: 2 settings differ, 1 container missing.");
    expect(table).toMatch(/kernel's own limits \(memory.max, memory.swap.max, pids.max, cpu.max\) were not read: the engine is reached over tcp:\/\//);
  });

  it("says OK when all is in force", () => {
    expect(formatTable({ ...report, ok: true, kernelReadable: true, rows: [] })).toContain("OK: stack dev on tcp://host:2375 is in force as configured.");
  });
});

describe("formatJson", () => {
  it("is the whole report, values uncut", () => {
    expect(JSON.parse(formatJson(report))).toEqual(report);
  });
});
