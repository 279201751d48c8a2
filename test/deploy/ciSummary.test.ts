/**
 * scripts/ci-summary.js: the one line CI reads ("N passed, N failed"). A suite that fails outside its
 * tests must count as a failure even when vitest reports its tests as skipped, or the line says
 * "0 failed" for a run that failed; so must a run that exited non-zero with every test passed (an unhandled
 * error, which vitest's JSON report does not count).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/stackFiles";

const dir = mkdtempSync(join(tmpdir(), "mmg-ci-summary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface FileResult {
  status: "passed" | "failed";
  assertionResults: { status: "passed" | "failed" | "skipped" | "pending" }[];
}

let reports = 0;
function report(numPassedTests: number, numFailedTests: number, numPendingTests: number, testResults: FileResult[]): string {
  const file = join(dir, `report-${reports++}.json`);
  writeFileSync(file, JSON.stringify({ numPassedTests, numFailedTests, numPendingTests, numTodoTests: 0, testResults }));
  return file;
}

function summary(...files: string[]): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "scripts/ci-summary.js"), ...files], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout.trim() };
}

const passing: FileResult = { status: "passed", assertionResults: [{ status: "passed" }, { status: "passed" }] };

describe("ci-summary", () => {
  it.each([
    ["every test passed", [report(2, 0, 0, [passing])], "2 passed, 0 failed"],
    [
      "a failed test is counted once",
      [report(1, 1, 0, [{ status: "failed", assertionResults: [{ status: "passed" }, { status: "failed" }] }])],
      "1 passed, 1 failed",
    ],
    ["a file that does not load counts as one failure", [report(2, 0, 0, [passing, { status: "failed", assertionResults: [] }])], "2 passed, 1 failed"],
    [
      "a file whose beforeAll threw (its tests skipped) counts as one failure",
      [report(2, 0, 3, [passing, { status: "failed", assertionResults: [{ status: "skipped" }, { status: "skipped" }, { status: "skipped" }] }])],
      "2 passed, 1 failed, 3 skipped",
    ],
    ["reports are summed", [report(2, 0, 0, [passing]), report(2, 0, 1, [passing])], "4 passed, 0 failed, 1 skipped"],
  ])("%s", (_case, files, line) => {
    expect(summary(...files).stdout).toBe(line);
  });

  it.each([
    ["a run that exited 1 with no failed test (an unhandled error) counts once as a failure", "=1", "2 passed, 1 failed"],
    ["a run that exited 0 adds nothing", "=0", "2 passed, 0 failed"],
    ["a report named without its exit status is read alone", "", "2 passed, 0 failed"],
  ])("%s", (_case, suffix, line) => {
    expect(summary(`${report(2, 0, 0, [passing])}${suffix}`).stdout).toBe(line);
  });

  it("a run that exited 1 and has failed tests counts those tests, not one more", () => {
    const failing = report(1, 1, 0, [{ status: "failed", assertionResults: [{ status: "passed" }, { status: "failed" }] }]);
    expect(summary(`${failing}=1`).stdout).toBe("1 passed, 1 failed");
  });

  it("a missing report is a failure, and the exit status says so", () => {
    expect(summary(report(2, 0, 0, [passing]), join(dir, "absent.json"))).toEqual({ status: 1, stdout: "2 passed, 1 failed" });
  });

  it("a run in which no test ran exits non-zero", () => {
    expect(summary(report(0, 0, 0, [])).status).toBe(1);
  });
});
