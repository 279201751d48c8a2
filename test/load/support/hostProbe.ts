/**
 * "Is the host still responsive?", measured: a tiny HTTP server in its own Node process on 127.0.0.1 (a
 * separate process, so it competes for the CPU like any host service would), asked every `intervalMs` from
 * the test process. Each answer's latency is recorded; no answer within `timeoutMs` counts as a failure.
 * Traffic never leaves 127.0.0.1.
 *
 *     const probe = await startHostProbe();
 *     … load …
 *     const stats = await probe.stop();   // { samples, failures, maxLatencyMs, … }
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as http from "node:http";
import { performance } from "node:perf_hooks";
import { onTestFinished } from "vitest";

export interface ProbeStats {
  samples: number;
  failures: number;
  maxLatencyMs: number;
  medianLatencyMs: number;
  /** First few failure reasons, for the assertion message. */
  errors: string[];
}

export interface HostProbe {
  /** Stops probing, ends the server process, resolves to what was measured. */
  stop(): Promise<ProbeStats>;
}

/** A forgotten probe stops by itself after this long, so the loop is bounded whatever a test does. */
const MAX_PROBE_MS = 5 * 60_000;

/** Exits when its stdin closes too, so it cannot outlive the test process. */
const SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => res.end("ok"));
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

/**
 * Starts probing. Call from inside a test: if the test fails before `stop()`, the probe is stopped when the
 * test finishes anyway.
 */
export async function startHostProbe(intervalMs = 100, timeoutMs = 1_000): Promise<HostProbe> {
  const server = spawn(process.execPath, ["-e", SERVER], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await firstLine(server);
  const latencies: number[] = [];
  const errors: string[] = [];
  let failures = 0;
  let stopped = false;
  const deadline = Date.now() + MAX_PROBE_MS;

  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      const started = performance.now();
      try {
        await get(port, timeoutMs);
        latencies.push(performance.now() - started);
      } catch (err) {
        failures++;
        if (errors.length < 5) errors.push((err as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();

  let result: Promise<ProbeStats> | undefined;
  const stop = () =>
    (result ??= (async () => {
      stopped = true;
      await loop;
      server.kill("SIGTERM");
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        samples: latencies.length + failures,
        failures,
        maxLatencyMs: round(sorted.at(-1) ?? NaN),
        medianLatencyMs: round(sorted[Math.floor(sorted.length / 2)] ?? NaN),
        errors,
      };
    })());
  onTestFinished(async () => {
    await stop();
  });
  return { stop };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function get(port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

function firstLine(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the probe server did not report its port within 10 s"));
    }, 10_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve(Number(line));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the probe server exited (${code}) before reporting its port`));
    });
  });
}
