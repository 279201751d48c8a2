/**
 * The session guard as a real program: guard/ compiled with tsc (as its image builds it) into a temp
 * folder, run with `node dist/main.js` in a child process on loopback ports, its JSON log collected.
 * Modules resolve from the repository's node_modules (NODE_PATH), which carries the guard's runtime
 * dependencies at the same versions.
 *
 *     const guard = await startGuard({ GUARD_UPSTREAM: upstream.url, GUARD_IDLE_TIMEOUT: "1s" });
 *     await fetch(`${guard.url}/metamcp/default/mcp`, …);
 *     await guard.stop();
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { compileProgram, REPO_ROOT } from "../../support/compile";
import { freePort } from "../../support/net";
import { waitUntil } from "../../support/wait";
import { parseExposition, type Exposition } from "../../monitor/support/prom";


let built: string | undefined;

/** Folder holding dist/main.js and dist/healthcheck.js; compiled at most once per process. */
export function buildGuard(): string {
  if (built && fs.existsSync(path.join(built, "dist", "main.js"))) return built;
  built = compileProgram("guard", "metamcp-guard-build-");
  return built;
}

export function removeGuardBuild(): void {
  if (built) fs.rmSync(built, { recursive: true, force: true });
  built = undefined;
}

export type LogRecord = { ts: string; level: string; event: string } & Record<string, any>;

export interface GuardRun {
  url: string;
  port: number;
  metricsPort: number;
  child: ChildProcess;
  /** Everything it wrote, stdout and stderr, as text (for "no secret in the output" checks). */
  output(): string;
  /** Its stdout, one parsed JSON record per line. */
  records(): LogRecord[];
  waitForRecord(predicate: (record: LogRecord) => boolean, timeoutMs: number, what: string): Promise<LogRecord>;
  metricsText(): Promise<string>;
  metrics(): Promise<Exposition>;
  /** Sends the signal and resolves with the exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const running = new Set<GuardRun>();

/** Starts the guard on free loopback ports with these variables; resolves once it has logged "start". */
export async function startGuard(env: Record<string, string>): Promise<GuardRun> {
  const dir = buildGuard();
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [path.join(dir, "dist", "main.js")], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      NODE_PATH: path.join(REPO_ROOT, "node_modules"),
      GUARD_LISTEN_HOST: "127.0.0.1",
      GUARD_LISTEN_PORT: String(port),
      GUARD_METRICS_HOST: "127.0.0.1",
      GUARD_METRICS_PORT: String(metricsPort),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));

  const records = () =>
    stdout
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as LogRecord);
  const metricsText = async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.text();
  };
  const run: GuardRun = {
    url: `http://127.0.0.1:${port}`,
    port,
    metricsPort,
    child,
    output: () => output,
    records,
    async waitForRecord(predicate, timeoutMs, what) {
      let found: LogRecord | undefined;
      await waitUntil(() => (found = records().find(predicate)) !== undefined, timeoutMs, what, 50);
      return found!;
    },
    metricsText,
    metrics: async () => parseExposition(await metricsText()),
    async stop(signal = "SIGTERM") {
      running.delete(run);
      if (!gone) child.kill(signal);
      return exited;
    },
    exited,
  };
  running.add(run);
  await waitUntil(
    () => {
      if (gone) throw new Error(`the guard exited before it started:\n${output}`);
      return records().some((r) => r.event === "start");
    },
    15_000,
    "the guard's start line",
    50,
  );
  return run;
}

/** Stops every guard still running (for afterAll/afterEach). */
export async function stopAllGuards(): Promise<void> {
  await Promise.all([...running].map((run) => run.stop("SIGKILL")));
}
