/**
 * The guard's image on a real engine: built from guard/Dockerfile (base image swapped for a local one),
 * run with the least privilege the stack gives it (read-only root, every capability dropped,
 * no-new-privileges, a non-root user, memory and PID caps) in front of an upstream container. It must
 * become healthy by its own HEALTHCHECK, forward, end an abandoned session with DELETE, and stop cleanly.
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithDocker, docker, removeTestContainers, runTestContainer } from "../support/docker";
import { nodeImage } from "../support/images";
import { freePort } from "../support/net";
import { waitUntil } from "../support/wait";
import { guardImage } from "./support/image";
import { writeTinyUpstream, type TinyRecords } from "./support/tinyUpstream";

const API_KEY = "sk_engine_5e2a9c7d1b";

describeWithDocker("session guard image on a real engine", () => {
  let guard: string;
  let upstreamDir: string;
  let ports: { upstream: number; guard: number; metrics: number };

  const records = async (): Promise<TinyRecords> => (await fetch(`http://127.0.0.1:${ports.upstream}/_records`)).json() as Promise<TinyRecords>;
  const post = (sessionId?: string) =>
    fetch(`http://127.0.0.1:${ports.guard}/metamcp/default/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": API_KEY, ...(sessionId ? { "mcp-session-id": sessionId } : {}) },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });

  beforeAll(async () => {
    const [image, node] = await Promise.all([guardImage(), nodeImage()]);
    ports = { upstream: await freePort(), guard: await freePort(), metrics: await freePort() };
    upstreamDir = writeTinyUpstream();
    await runTestContainer("--network", "host", "-v", `${upstreamDir}:/tiny:ro`, node, "node", "/tiny/upstream.js", String(ports.upstream));
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${ports.upstream}/_records`)).ok, 15_000, "the upstream container");
    guard = await runTestContainer(
      "--network", "host",
      "--read-only",
      "--cap-drop", "ALL",
      "--security-opt", "no-new-privileges",
      "--user", "1000:1000",
      "--memory", "256m", "--memory-swap", "256m",
      "--pids-limit", "64",
      // The image's own HEALTHCHECK command, probed every second instead of every 30 s.
      "--health-interval", "1s",
      "-e", `GUARD_UPSTREAM=http://127.0.0.1:${ports.upstream}`,
      "-e", "GUARD_LISTEN_HOST=127.0.0.1",
      "-e", `GUARD_LISTEN_PORT=${ports.guard}`,
      "-e", "GUARD_METRICS_HOST=127.0.0.1",
      "-e", `GUARD_METRICS_PORT=${ports.metrics}`,
      "-e", "GUARD_IDLE_TIMEOUT=1s",
      "-e", "GUARD_SWEEP_INTERVAL=200ms",
      image,
    );
  });

  afterAll(async () => {
    await removeTestContainers();
    if (upstreamDir) fs.rmSync(upstreamDir, { recursive: true, force: true });
  });

  it("the image runs as a non-root user with its HEALTHCHECK and entrypoint", async () => {
    const config = JSON.parse(await docker("image", "inspect", "--format", "{{json .Config}}", await guardImage())) as {
      User: string;
      Healthcheck: { Test: string[] };
      Entrypoint: string[];
    };
    expect(config.User).toBe("1000:1000");
    expect(config.Healthcheck.Test).toEqual(["CMD", "node", "/app/dist/healthcheck.js"]);
    expect(config.Entrypoint).toEqual(["node", "/app/dist/main.js"]);
  });

  it("becomes healthy by its own health check under a read-only root, no capabilities and no-new-privileges", async () => {
    await waitUntil(async () => (await docker("inspect", "-f", "{{.State.Health.Status}}", guard)) === "healthy", 30_000, "the guard healthy");
    const status = await docker("exec", guard, "cat", "/proc/1/status");
    expect(status).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    const host = JSON.parse(await docker("inspect", "-f", "{{json .HostConfig}}", guard)) as { ReadonlyRootfs: boolean; CapDrop: string[] };
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.CapDrop).toEqual(["ALL"]);
  });

  it("forwards to the upstream container and ends an abandoned session with DELETE and its key", async () => {
    const first = await post();
    expect(first.status).toBe(200);
    const sessionId = first.headers.get("mcp-session-id")!;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await first.json()).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
    expect((await post(sessionId)).status).toBe(200);

    await waitUntil(async () => (await records()).deletes.some((d) => d.id === sessionId), 10_000, "the guard's DELETE at the upstream");
    expect((await records()).deletes.find((d) => d.id === sessionId)).toEqual({
      id: sessionId,
      apiKey: API_KEY,
      path: "/metamcp/default/mcp",
      userAgent: "metamcp-guard",
    });
    expect((await post(sessionId)).status).toBe(404);

    const logs = await docker("logs", guard);
    const events = logs.split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events).toEqual(expect.arrayContaining(["start", "session_started", "session_ended"]));
    expect(logs).not.toContain(API_KEY);
    expect(logs).not.toContain(sessionId);
  });

  it("fits its PID cap with room to spare, and stops on SIGTERM with exit code 0", async () => {
    const tasks = Number(await docker("exec", guard, "sh", "-c", "ls /proc/1/task | wc -l"));
    console.log(`guard tasks (threads of its node process): ${tasks}`);
    expect(tasks).toBeLessThan(32);
    const started = Date.now();
    await docker("stop", "-t", "20", guard);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await docker("inspect", "-f", "{{.State.ExitCode}}", guard)).toBe("0");
    expect(await docker("logs", guard)).toContain('"event":"stop"');
  });
});
