/**
 * `npm run bench -- guard`: small JSON-RPC requests through the session guard against the same requests
 * sent straight to the same upstream, side by side in one run.
 *
 *   upstream   the tiny session upstream (test/guard/support/tinyUpstream.ts) in its own process: it
 *              answers in microseconds, so what the guard adds is as visible as it can be (MetaMCP spends
 *              far longer per request, so the guard's share of a real request is smaller).
 *   guard      the real program (guard/ compiled as its image compiles it), default settings, in its own
 *              process, in front of that upstream.
 *   load       a third process: keep-alive connections, each first opening a session (a POST without
 *              Mcp-Session-Id), then POSTing a JSON-RPC ping with its session id and an X-API-Key, so every
 *              request goes through the guard's session tracking.
 * Latency: one connection, one request at a time; p50/p99 of each side, and the difference ("added").
 * Throughput: CONCURRENCY connections as fast as they go; requests per second of each side, and the ratio.
 * Rounds alternate direct and guard, so a noisy neighbour hits both alike. Guard CPU per request and RSS
 * come from its /proc entry.
 *
 * Prints figures; asserts nothing (machines differ). The targets are printed beside them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as guardProcess from "../test/guard/support/guardProcess";
import * as tiny from "../test/guard/support/tinyUpstream";
import * as net from "../test/support/net";
import * as compile from "../test/support/compile";
import * as wait from "../test/support/wait";

const TARGETS = { addedP99Ms: 1, throughputRatio: 0.9 };
const ROUNDS = 5;
const PHASE_MS = 2_000;
const WARMUP_MS = 500;
const CONCURRENCY = 16;
const API_KEY = "sk_bench_0000";
const ENDPOINT = "/metamcp/default/mcp";
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The load generator, `node load.js BASE CONNECTIONS WARMUP_MS DURATION_MS API_KEY ENDPOINT`: each
 * connection initializes a session as an MCP client does (initialize, then notifications/initialized),
 * then sends pings with its session id until the time is up. Prints one JSON line.
 */
const LOAD_JS = `"use strict";
const http = require("node:http");
const { performance } = require("node:perf_hooks");
const [base, connections, warmupMs, durationMs, apiKey, endpoint] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
const url = new URL(endpoint, base);
const PROTOCOL = "2025-06-18";
const INITIALIZE = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "bench", version: "1.0.0" } } });
const INITIALIZED = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });
const PING = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
function send(body, sessionId) {
  return new Promise((resolve, reject) => {
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", "x-api-key": apiKey, "content-length": Buffer.byteLength(body) };
    if (sessionId) {
      headers["mcp-session-id"] = sessionId;
      headers["mcp-protocol-version"] = PROTOCOL;
    }
    const req = http.request(url, { method: "POST", agent, headers }, (res) => {
      res.on("data", () => undefined);
      res.on("end", () => resolve({ status: res.statusCode, sessionId: res.headers["mcp-session-id"] }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
async function main() {
  const latencies = [];
  let requests = 0;
  let errors = 0;
  const measureFrom = performance.now() + Number(warmupMs);
  const end = measureFrom + Number(durationMs);
  const worker = async () => {
    const { sessionId } = await send(INITIALIZE);
    await send(INITIALIZED, sessionId);
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      const { status } = await send(PING, sessionId);
      const t1 = performance.now();
      if (t0 >= measureFrom) {
        requests++;
        if (status !== 200) errors++;
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: Number(connections) }, worker));
  process.stdout.write(JSON.stringify({ requests, errors, seconds: Number(durationMs) / 1000, latencies }) + "\\n");
  agent.destroy();
}
main().catch((err) => { process.stderr.write(String(err.stack || err) + "\\n"); process.exit(1); });
`;

interface Side {
  requests: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

function emptySide(): Side {
  return { requests: 0, errors: 0, seconds: 0, latencies: [] };
}

function add(side: Side, phase: Side): void {
  side.requests += phase.requests;
  side.errors += phase.errors;
  side.seconds += phase.seconds;
  for (const latency of phase.latencies) side.latencies.push(latency);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function runLoad(loadScript: string, base: string, connections: number): Promise<Side> {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, [loadScript, base, String(connections), String(WARMUP_MS), String(PHASE_MS), API_KEY, ENDPOINT], {
        stdio: ["ignore", "pipe", "inherit"],
      }),
    );
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as Side) : reject(new Error(`load generator exited ${code}`))));
  });
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** Spawns an upstream process and waits for its "listening" line. */
async function startUpstream(command: string[], cwd: string): Promise<ChildProcess> {
  const child = track(spawn(command[0], command.slice(1), { cwd, stdio: ["ignore", "pipe", "inherit"] }));
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  await wait.waitUntil(() => out.includes("listening"), 30_000, `${command.join(" ")} listening`);
  return child;
}

interface Scenario {
  name: string;
  /** The upstream's command line, given its port. */
  upstream: (port: number) => string[];
}

const SCENARIOS: Scenario[] = [
  {
    name: "tiny upstream (answers in microseconds: the guard's overhead at its most visible)",
    upstream: (port) => [process.execPath, "upstream.js", String(port)],
  },
  {
    name: "MCP SDK upstream (the SDK's Streamable HTTP transport, as MetaMCP serves a request, without its servers)",
    upstream: (port) => [
      process.execPath,
      "-r",
      "ts-node/register/transpile-only",
      path.join(compile.REPO_ROOT, "test/support/mcpUpstreamMain.ts"),
      String(port),
      API_KEY,
      "--no-servers",
    ],
  },
];

const fmt = (n: number, digits = 3) => n.toFixed(digits);

async function runScenario(scenario: Scenario, dir: string, loadScript: string): Promise<void> {
  const upstreamPort = await net.freePort();
  const cwd = scenario.upstream(0)[1] === "upstream.js" ? dir : compile.REPO_ROOT;
  const upstream = await startUpstream(scenario.upstream(upstreamPort), cwd);
  const guard = await guardProcess.startGuard({ GUARD_UPSTREAM: `http://127.0.0.1:${upstreamPort}` });
  const direct = `http://127.0.0.1:${upstreamPort}`;
  console.log(`\n== ${scenario.name}`);
  try {
    const latency = { direct: emptySide(), guard: emptySide() };
    const throughput = { direct: emptySide(), guard: emptySide() };
    let guardCpu = 0;
    let guardRequests = 0;
    const guarded = async (connections: number) => {
      const before = cpuSeconds(guard.child.pid!);
      const phase = await runLoad(loadScript, guard.url, connections);
      guardCpu += cpuSeconds(guard.child.pid!) - before;
      guardRequests += phase.requests;
      return phase;
    };
    for (let round = 1; round <= ROUNDS; round++) {
      add(latency.direct, await runLoad(loadScript, direct, 1));
      add(latency.guard, await guarded(1));
      add(throughput.direct, await runLoad(loadScript, direct, CONCURRENCY));
      add(throughput.guard, await guarded(CONCURRENCY));
    }

    const p = (side: Side, q: number) => percentile(side.latencies, q);
    const rps = (side: Side) => side.requests / side.seconds;
    const memory = memoryMiB(guard.child.pid!);
    const tracked = (await guard.metrics()).samples.find((s) => s.name === "metamcp_guard_sessions")?.value;
    console.log(`latency, 1 connection, ${latency.direct.requests} direct and ${latency.guard.requests} guarded pings (ms):`);
    console.log(`  direct  p50 ${fmt(p(latency.direct, 50))}  p99 ${fmt(p(latency.direct, 99))}`);
    console.log(`  guard   p50 ${fmt(p(latency.guard, 50))}  p99 ${fmt(p(latency.guard, 99))}`);
    console.log(
      `  added   p50 ${fmt(p(latency.guard, 50) - p(latency.direct, 50))}  p99 ${fmt(p(latency.guard, 99) - p(latency.direct, 99))}` +
        `   (target: p99 added < ${TARGETS.addedP99Ms} ms)`,
    );
    console.log(`throughput, ${CONCURRENCY} keep-alive connections (pings/s):`);
    console.log(`  direct  ${fmt(rps(throughput.direct), 0)}   (p99 ${fmt(p(throughput.direct, 99), 1)} ms)`);
    console.log(`  guard   ${fmt(rps(throughput.guard), 0)}   (p99 ${fmt(p(throughput.guard, 99), 1)} ms)`);
    console.log(`  ratio   ${fmt((rps(throughput.guard) / rps(throughput.direct)) * 100, 1)}% of direct   (target: >= ${TARGETS.throughputRatio * 100}%)`);
    console.log(
      `guard process: ${fmt((guardCpu / guardRequests) * 1e6, 0)} µs CPU per request, ` +
        `RSS ${fmt(memory.rss, 1)} MiB (peak ${fmt(memory.peak, 1)} MiB), ${tracked} sessions tracked`,
    );
    const errors = [latency, throughput].flatMap((s) => [s.direct.errors, s.guard.errors]).reduce((a, b) => a + b, 0);
    if (errors > 0) console.log(`non-200 answers: ${errors} (figures are not comparable)`);
  } finally {
    await guard.stop();
    upstream.kill("SIGTERM");
  }
}

/** Processes this benchmark started (upstreams, load generators), so an interrupt can stop them. */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

/** Stops what a run started, whatever state it is in (Ctrl-C). */
export async function interrupt(): Promise<void> {
  for (const child of children) child.kill("SIGKILL");
  await guardProcess.stopAllGuards();
  guardProcess.removeGuardBuild();
}

export async function run(): Promise<void> {
  const load = os.loadavg().map((l) => l.toFixed(1)).join(" ");
  console.log(`guard benchmark: node ${process.version}, ${os.cpus().length} CPUs, ${os.release()}, load average ${load}`);
  console.log(`${ROUNDS} rounds of ${PHASE_MS / 1000} s per side and measure, after ${WARMUP_MS} ms of warm-up each; load, guard and upstream in 3 processes`);
  const dir = tiny.writeTinyUpstream();
  const loadScript = path.join(dir, "load.js");
  fs.writeFileSync(loadScript, LOAD_JS);
  try {
    for (const scenario of SCENARIOS) await runScenario(scenario, dir, loadScript);
  } finally {
    guardProcess.removeGuardBuild();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nload average now ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} (the machine's other work shares these CPUs)`);
}


