/**
 * The monitor as the last line of defense, on a real engine: each case the review reproduced, on a
 * target of its own (support/target.ts), with the monitor wired as the stack wires it.
 *   - secrets in command lines never reach `docker logs` or /metrics;
 *   - a leaked server's detached helpers (setsid, double fork) are reaped with it;
 *   - a runaway in a session of its own is the emergency's first victim, and live MCP groups survive;
 *   - an impostor matching the main pattern is neither the main server nor a shield;
 *   - hostile 64 KiB command lines neither stall the monitor nor push it past its memory cap.
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerCgroup, readMemory } from "../load/support/cgroup";
import { describeWithDocker, docker, removeTestContainers } from "../support/docker";
import { busyboxImage, nodeImage } from "../support/images";
import { waitUntil } from "../support/wait";
import { buildMonitor, removeMonitorBuild } from "./support/build";
import { parseExposition, sampleValue } from "./support/prom";
import {
  auditLines,
  fetchText,
  startMonitor,
  startTarget,
  targetProcesses,
  TEST_GRACE_MS,
  TEST_INTERVAL_MS,
  TEST_MONITOR_ENV,
  writeTargetScripts,
} from "./support/target";

const INTERVAL_MS = TEST_INTERVAL_MS;
const GRACE_MS = TEST_GRACE_MS;
const MONITOR_ENV = TEST_MONITOR_ENV;
const MONITOR_MEMORY_BYTES = 128 * 1024 ** 2; // startMonitor's --memory

const PASSWORD = "S3cretPassw0rd";
const API_KEY = "sk-live-4eC39HqLyjWDarjtT1zdp7dc";
const SECRET_ARGS = `postgresql://app:${PASSWORD}@db:5432/app --api-key=${API_KEY}`;

/** The target's live processes. */
const ps = async (target: string) => (await targetProcesses(target)).filter((p) => !p.stat.startsWith("Z"));

const reaps = async (monitor: string) => (await auditLines(monitor)).filter((r) => r.event === "reap");
const metricsOf = async (port: number) => parseExposition((await fetchText(port, "/metrics"))!.text);

describeWithDocker("the monitor as the last line of defense, on a real engine", () => {
  let busybox: string;
  let node: string;
  let build: string;
  const scriptDirs: string[] = [];

  /** A target running `server` as its main server. */
  async function target(server: string, pidsLimit = 200): Promise<string> {
    const scripts = writeTargetScripts(server);
    scriptDirs.push(scripts);
    return startTarget(busybox, scripts, pidsLimit, 60_000);
  }

  beforeAll(async () => {
    [busybox, node] = await Promise.all([busyboxImage(), nodeImage()]);
    build = buildMonitor();
  });

  afterAll(async () => {
    try {
      await removeTestContainers();
    } finally {
      for (const dir of scriptDirs) fs.rmSync(dir, { recursive: true, force: true });
      removeMonitorBuild();
    }
  });

  it("keeps credentials in command lines out of docker logs and /metrics, and still names the server", async () => {
    const id = await target(`#!/bin/sh
setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-live-1 &
# A leaked server given a database URL and an API key; and a wrapper with the same in its command
# line that starts a server (re-parented away from this server) and leaves two zombies.
setsid /bin/sh /fake/npm-leaky exec @modelcontextprotocol/server-postgres ${SECRET_ARGS} &
/bin/sh -c '/bin/sh /fake/wrapper "$@" & exit 0' sh ${SECRET_ARGS} &
echo spawned
wait
`);
    const monitor = await startMonitor(node, build, id, MONITOR_ENV);
    await waitUntil(async () => (await reaps(monitor.id)).filter((r) => r.outcome === "exited").length >= 2, GRACE_MS + 10_000, "two reaps");
    const logs = await docker("logs", monitor.id);
    const metrics = (await fetchText(monitor.port, "/metrics"))!.text;
    // The secrets are in the target's processes, so their absence from the monitor's output means something.
    expect((await ps(id)).some((p) => p.args.includes(PASSWORD))).toBe(true);
    for (const secret of [PASSWORD, API_KEY, "app:"]) {
      expect(logs).not.toContain(secret);
      expect(metrics).not.toContain(secret);
    }
    const shown = "postgresql://***@db:5432/app --api-key=***";
    const byServer = new Map((await reaps(monitor.id)).map((r) => [/server-(postgres|wrapped)/.exec(r.cmdline)?.[0], r]));
    expect(byServer.get("server-postgres")).toMatchObject({ reason: "orphaned", state: "orphaned" });
    expect(byServer.get("server-postgres")!.cmdline).toContain(`exec @modelcontextprotocol/server-postgres ${shown}`);
    expect(byServer.get("server-wrapped")!.detail).toMatch(/^leader's parent is \d+ \(tail -f -- \/dev\/null postgresql:\/\/\*\*\*@db:5432\/app --api-key=\*\*\*\), not the server/);
    const zombies = (await auditLines(monitor.id)).filter((r) => r.event === "zombie");
    expect(zombies.length).toBeGreaterThanOrEqual(2);
    for (const zombie of zombies) expect(zombie.parentCmdline).toBe(`tail -f -- /dev/null ${shown}`);
  });

  it("reaps a leaked server's detached helpers with it (setsid and double fork), and leaves a live server's alone", async () => {
    const id = await target(`#!/bin/sh
setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-live-1 --helper &
# The live server's helpers start first: a process under PID 1 is matched to a group by start time.
sleep 1
setsid /bin/sh /fake/npm-leaky exec @modelcontextprotocol/server-leaky --helper &
echo spawned
wait
`);
    await waitUntil(async () => (await ps(id)).filter((p) => /^sleep 10000[12]$/.test(p.args)).length === 4, 10_000, "four helpers");
    const before = await ps(id);
    const liveSid = before.find((p) => p.args.includes("npm exec @modelcontextprotocol/server-live-1"))!.sid;
    const liveGroup = before.filter((p) => p.sid === liveSid || p.ppid === before.find((q) => q.sid === liveSid && q.args.includes("/fake/node"))?.pid);
    const helpers = before.filter((p) => /^sleep 10000[12]$/.test(p.args));
    // Each helper is in a session of its own; the double-forked ones sit under PID 1.
    expect(new Set(helpers.map((p) => p.sid)).size).toBe(4);
    expect(helpers.filter((p) => p.ppid === 1)).toHaveLength(2);

    const monitor = await startMonitor(node, build, id, MONITOR_ENV);
    await waitUntil(async () => (await reaps(monitor.id)).some((r) => /server-leaky/.test(r.cmdline)), GRACE_MS + 10_000, "the leak reaped");
    const reap = (await reaps(monitor.id)).find((r) => /server-leaky/.test(r.cmdline))!;
    expect(reap).toMatchObject({ reason: "orphaned", outcome: "exited" });
    expect(reap.sessions).toHaveLength(3); // the server's and its two helpers'
    await waitUntil(async () => !(await ps(id)).some((p) => reap.sessions.includes(p.sid)), 5_000, "the leak's sessions to be gone");

    const after = await ps(id);
    const survivors = after.filter((p) => /^sleep 10000[12]$/.test(p.args));
    expect(survivors).toHaveLength(2);
    expect(survivors.every((p) => !reap.sessions.includes(p.sid))).toBe(true);
    for (const p of liveGroup) expect(after.map((q) => q.pid)).toContain(p.pid);
    expect((await reaps(monitor.id)).filter((r) => /server-live/.test(r.cmdline))).toEqual([]);
  });

  it("takes a runaway in a session of its own first in an emergency, while live MCP groups survive", async () => {
    const id = await target(`#!/bin/sh
setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-live-1 &
setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-live-2 &
echo spawned
wait
`);
    const before = await ps(id);
    const liveSids = new Set(before.filter((p) => /server-live/.test(p.args)).map((p) => p.sid));
    const liveProcesses = before.filter((p) => liveSids.has(p.sid)).map((p) => p.pid);
    expect(liveProcesses.length).toBeGreaterThanOrEqual(6);
    // About 10 tasks before the runaway, 50 with it: the threshold lies between, its release level (27) too.
    const monitor = await startMonitor(node, build, id, { ...MONITOR_ENV, MONITOR_EMERGENCY_TASKS: "30", MONITOR_EMERGENCY_FLOOR: "0" });
    expect(sampleValue(await metricsOf(monitor.port), "metamcp_monitor_emergency")).toBe(0);
    await docker("kill", "-s", "USR2", id);
    await waitUntil(async () => (await auditLines(monitor.id)).some((r) => r.event === "emergency-end"), 15_000, "the emergency to end");

    const audit = await auditLines(monitor.id);
    const emergencyReaps = audit.filter((r) => r.event === "reap" && r.reason === "emergency");
    expect(emergencyReaps).toHaveLength(1);
    const runaway = emergencyReaps[0];
    expect(runaway).toMatchObject({ state: "other", outcome: "exited" });
    // A scan can catch the runaway while it still forks (its 40 take a while on a loaded host): it holds
    // what it had then, enough to cross the threshold with what ran before it, and none of it outlives
    // the reap (below).
    expect(runaway.members).toBeLessThanOrEqual(40);
    expect(runaway.members + before.length).toBeGreaterThanOrEqual(30);
    expect(runaway.detail).toMatch(new RegExp(`^\\d+ tasks >= emergency threshold 30; not an MCP server, holds ${runaway.members} tasks`));
    expect(audit.find((r) => r.event === "emergency-start")!.tasks).toBeGreaterThanOrEqual(30);
    const after = (await ps(id)).map((p) => p.pid);
    for (const pid of liveProcesses) expect(after).toContain(pid);
    expect((await ps(id)).filter((p) => p.args === "sleep 100003")).toEqual([]);
    expect(audit.filter((r) => r.event === "reap" && r.state !== "other")).toEqual([]);
  });

  it("does not take an impostor matching the main pattern for the main server, nor let it shield its session", async () => {
    const id = await target(`#!/bin/sh
if [ -n "$IMPOSTOR" ]; then
  # A self-built server run as the backend is (same command line), lost by MetaMCP: in a session of
  # its own, with a server in its session and a detached one below it.
  /bin/sh /fake/npm exec @modelcontextprotocol/server-impostor-own &
  setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-impostor-child &
  wait
  exit 0
fi
setsid /bin/sh /fake/npm exec @modelcontextprotocol/server-live-1 &
/bin/sh -c 'IMPOSTOR=1 setsid /bin/sh /fake/metamcp-server & exit 0' &
echo spawned
wait
`);
    const before = await ps(id);
    const matching = before.filter((p) => p.args === "/bin/sh /fake/metamcp-server");
    expect(matching).toHaveLength(2);
    const [real, impostor] = matching[0].sid === 1 ? matching : [matching[1], matching[0]];
    expect(impostor.sid).toBe(impostor.pid);

    const monitor = await startMonitor(node, build, id, MONITOR_ENV);
    await waitUntil(async () => (await reaps(monitor.id)).some((r) => r.sid === impostor.sid && r.outcome !== "dry-run"), GRACE_MS + 10_000, "the impostor reaped");
    const audit = await auditLines(monitor.id);
    expect(audit.find((r) => r.event === "main-server-found")).toMatchObject({ pid: real.pid });
    expect(audit.find((r) => r.event === "main-pattern-ambiguous")).toMatchObject({ mainPid: real.pid, impostorPids: [impostor.pid] });
    const reap = audit.find((r) => r.event === "reap" && r.sid === impostor.sid)!;
    expect(reap).toMatchObject({ reason: "orphaned", state: "orphaned", outcome: "exited" });
    expect(reap.sessions).toHaveLength(2); // its own and the detached server below it
    // The gauges describe the last scan: one after the reap sees the real server alone.
    await waitUntil(async () => sampleValue(await metricsOf(monitor.port), "metamcp_monitor_main_pattern_matches") === 1, 3 * INTERVAL_MS, "one match left");
    const after = await ps(id);
    expect(after.some((p) => p.pid === real.pid)).toBe(true);
    expect(after.some((p) => /server-impostor/.test(p.args))).toBe(false);
    expect(after.some((p) => /server-live-1/.test(p.args))).toBe(true);
  });

  describe("hostile command lines", () => {
    it("neither stall the monitor nor push it past its memory cap: 200 static 64 KiB lines and a churn of distinct ones", async () => {
      // Every line is "/node " repeated (what stalled the pattern the defaults replaced), each
      // distinct at its start (what filled the unbounded cache). The static ones wait on a FIFO
      // nobody writes; four loops start a fresh short-lived one every 50 ms each.
      const id = await target(
        `#!/bin/sh
x=$(printf '/node %.0s' $(seq 10922))
mkfifo /tmp/never
i=0
while [ $i -lt 200 ]; do setsid /bin/sh -c 'read _ < /tmp/never' "s$i$x" & i=$((i+1)); done
for loop in 1 2 3 4; do
  ( j=0; while :; do /bin/sh -c 'sleep 0.3' "c$loop-$j$x" & j=$((j+1)); sleep 0.05; done ) &
done
echo spawned
wait
`,
        1000,
      );
      const monitor = await startMonitor(node, build, id, MONITOR_ENV);
      const cgroup = await containerCgroup(monitor.id);
      const figures = { healthz: [] as number[], scanSeconds: [] as number[], selfRss: [] as number[], cacheBytes: [] as number[] };
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        const started = performance.now();
        const health = await fetchText(monitor.port, "/healthz");
        figures.healthz.push(health?.status === 200 ? performance.now() - started : Infinity);
        const metrics = await metricsOf(monitor.port);
        figures.scanSeconds.push(sampleValue(metrics, "metamcp_monitor_scan_duration_seconds"));
        figures.selfRss.push(sampleValue(metrics, "metamcp_monitor_self_rss_bytes"));
        figures.cacheBytes.push(sampleValue(metrics, "metamcp_monitor_command_cache_bytes"));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const metrics = await metricsOf(monitor.port);
      const memory = await readMemory(cgroup);
      // The kernel's peak where it keeps one (cgroup v1, v2 from Linux 5.19), else the usage now.
      const peakUsage = memory.peak ?? memory.current;
      console.log(
        JSON.stringify({
          hostileFigures: {
            healthzWorstMs: Math.round(Math.max(...figures.healthz)),
            scanWorstMs: Math.round(Math.max(...figures.scanSeconds) * 1000),
            selfRssPeakMiB: Math.round(Math.max(...figures.selfRss) / 1024 ** 2),
            cgroupPeakMiB: Math.round(peakUsage / 1024 ** 2),
            cacheBytesPeak: Math.max(...figures.cacheBytes),
            scans: sampleValue(metrics, "metamcp_monitor_scans_total"),
            liveGroups: sampleValue(metrics, "metamcp_monitor_mcp_groups", { state: "live" }),
            scanMs: figures.scanSeconds.map((s) => Math.round(s * 1000)),
            healthzMs: figures.healthz.map(Math.round),
          },
        }),
      );
      // Responsive throughout: /healthz answered every time, within a second, and scans stayed short.
      expect(Math.max(...figures.healthz)).toBeLessThan(1000);
      expect(Math.max(...figures.scanSeconds)).toBeLessThan(0.5);
      // Recognised them all (each is a detached child of the main server: an MCP group by structure).
      expect(sampleValue(metrics, "metamcp_monitor_mcp_groups", { state: "live" })).toBeGreaterThanOrEqual(200);
      // Within its cap, with room: never OOM-killed, never restarted, the cache within its bound.
      expect(memory.oomKills ?? 0).toBe(0);
      expect(peakUsage).toBeLessThan(MONITOR_MEMORY_BYTES);
      expect(Math.max(...figures.selfRss)).toBeLessThan(100 * 1024 ** 2);
      expect(Math.max(...figures.cacheBytes)).toBeLessThanOrEqual(8 * 1024 ** 2);
      expect(await docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}} {{.State.OOMKilled}}", monitor.id)).toBe("true 0 false");
    }, 90_000);
  });
});
