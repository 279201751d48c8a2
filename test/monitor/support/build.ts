/**
 * Compiles monitor/ into a temporary folder laid out as the image lays it out (/app/dist plus
 * /app/node_modules/zod), for real-engine tests and the benchmark to mount into a Node container.
 * Built at most once per process.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { compileProgram } from "../../support/compile";

export const REPO_ROOT = path.join(__dirname, "..", "..", "..");

let built: string | undefined;

/** Folder holding dist/main.js and node_modules/zod; mount it at /app and run `node /app/dist/main.js`. */
export function buildMonitor(): string {
  if (built && fs.existsSync(path.join(built, "dist", "main.js"))) return built;
  const dir = compileProgram("monitor", "metamcp-monitor-build-");
  fs.cpSync(path.join(REPO_ROOT, "node_modules", "zod"), path.join(dir, "node_modules", "zod"), { recursive: true });
  // Readable by whatever uid the container runs as.
  execFileSync("chmod", ["-R", "a+rX", dir]);
  built = dir;
  return dir;
}

export function removeMonitorBuild(): void {
  if (built) fs.rmSync(built, { recursive: true, force: true });
  built = undefined;
}
