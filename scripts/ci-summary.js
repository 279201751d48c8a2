#!/usr/bin/env node
// Prints vitest's JSON reports as the one line CI reads: "N passed, N failed[, N skipped]", summed over every
// report named (the main run, and the cgroup v2 VM's suite). Exits non-zero when a report is missing or no
// test ran, so an empty run cannot pass.
//
// Each argument is REPORT or REPORT=EXIT_STATUS, the status vitest exited with for that report. vitest's JSON
// report does not count unhandled errors (a promise rejected with no handler, an error thrown in a timer), yet
// they fail the run: a run that exited non-zero with no failed test in its report counts once as a failure.
const fs = require("node:fs");

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = false;
if (files.length === 0) {
  console.error("ci-summary: no vitest report named");
  process.exit(1);
}
for (const argument of files) {
  const [, file, exitStatus] = /^(.*?)(?:=(\d+))?$/.exec(argument);
  if (!fs.existsSync(file)) {
    console.error(`ci-summary: no vitest report at ${file}`);
    missing = true;
    continue;
  }
  const report = JSON.parse(fs.readFileSync(file, "utf8"));
  passed += report.numPassedTests ?? 0;
  // A file that fails outside its tests (it does not load, or a beforeAll throws and its tests are skipped)
  // has no failed test of its own; count it once as a failure.
  const brokenFiles = (report.testResults ?? []).filter(
    (f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed"),
  );
  const failedHere = (report.numFailedTests ?? 0) + brokenFiles.length;
  const failedOutsideTests = exitStatus !== undefined && Number(exitStatus) !== 0 && failedHere === 0;
  if (failedOutsideTests) {
    console.error(`ci-summary: the run behind ${file} exited ${exitStatus} with no failed test: an error outside the tests (see "Unhandled Errors" above)`);
  }
  failed += failedHere + (failedOutsideTests ? 1 : 0);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
console.log(`${passed} passed, ${failed + (missing ? 1 : 0)} failed${skipped ? `, ${skipped} skipped` : ""}`);
if (missing) process.exit(1);
if (passed + failed === 0) {
  console.error("ci-summary: no test ran");
  process.exit(1);
}
