/** verify's output: a table for people, JSON for machines (pure). */
import type { ConfigError } from "../config";
import type { CheckRow, CheckStatus } from "./compare";
import type { VerifyReport } from "./index";

/**
 * A stack file the program would refuse, as verify and verify-host say it: not ConfigError's own headline,
 * since they deploy nothing, and they compare nothing when the file is wrong.
 */
export function describeConfigError(error: ConfigError): string {
  const count = `${error.problems.length} config problem${error.problems.length === 1 ? "" : "s"}`;
  return `stack "${error.stackName}" has ${count} (pulumi up would refuse it); nothing was compared:\n${error.problems.map((p) => `  - ${p}`).join("\n")}`;
}

const STATUS_WORD: Record<CheckStatus, string> = {
  ok: "ok",
  mismatch: "MISMATCH",
  missing: "MISSING",
  unreadable: "n/a",
};

/** Long values (the app's health-check command) are cut in the table; --json has them whole. */
const MAX_CELL = 60;

function cell(text: string): string {
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

/** One table of container, setting, wanted, in force, ok; then one line that says the verdict. */
export function formatTable(report: VerifyReport): string {
  const header = ["container", "setting", "wanted", "in force", "ok"];
  const body = report.rows.map((row: CheckRow) => [row.container, row.setting, cell(row.wanted), cell(row.inForce), STATUS_WORD[row.status]]);
  const widths = header.map((_, i) => Math.max(header[i].length, ...body.map((cells) => cells[i].length)));
  const line = (cells: string[]) => cells.map((text, i) => text.padEnd(widths[i])).join("  ").trimEnd();
  const count = (status: CheckStatus, one: string, many: string) => {
    const n = report.rows.filter((row) => row.status === status).length;
    return n === 0 ? [] : [`${n} ${n === 1 ? one : many}`];
  };
  const problems = [...count("mismatch", "setting differs", "settings differ"), ...count("missing", "container missing", "containers missing")];
  const verdict = report.ok
    ? `OK: stack ${report.stack} on ${report.dockerHost} is in force as configured.`
    : `FAILED: stack ${report.stack} on ${report.dockerHost}: ${problems.join(", ")}.`;
  const kernelNote = report.kernelReadable
    ? []
    : ["Note: the kernel's own limits (memory.max, memory.swap.max, pids.max, cpu.max) were not read: the engine is reached over tcp://; use ssh:// or run verify on the Docker host."];
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line), "", verdict, ...kernelNote].join("\n") + "\n";
}

export function formatJson(report: VerifyReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}
