#!/usr/bin/env node
// Prints vitest's JSON report as the one line CI reads: "N passed, N failed[, N skipped]".
// Exits non-zero when the report is missing or no test ran, so an empty run cannot pass.
const fs = require("node:fs");

const file = process.argv[2];
if (!file || !fs.existsSync(file)) {
  console.error(`ci-summary: no vitest report at ${file}`);
  process.exit(1);
}
const report = JSON.parse(fs.readFileSync(file, "utf8"));
const passed = report.numPassedTests ?? 0;
// A file that fails to load has no test results of its own; count it once as a failure.
const brokenFiles = (report.testResults ?? []).filter((f) => f.status === "failed" && (f.assertionResults ?? []).length === 0);
const failed = (report.numFailedTests ?? 0) + brokenFiles.length;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
if (passed + failed === 0) {
  console.error("ci-summary: no test ran");
  process.exit(1);
}
