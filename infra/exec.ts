/** Running a program for its output: the one place that turns execFile's callback into a result. */
import { execFile } from "node:child_process";

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program and resolves with its exit code and output; never rejects (a spawn failure is code 255). */
export function runCommand(file: string, args: readonly string[], timeoutMs = 60_000): Promise<ShellResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 255) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? err.message : "") });
    });
  });
}
