/**
 * The monitor on a real engine, against a target that leaks like MetaMCP (see support/target.ts),
 * wired as the stack wires it. The tests run in order on one target: dry-run first (nothing may
 * change), then the real monitor, then a restart of the target.
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithDocker, docker, removeTestContainers } from "../support/docker";
import { busyboxImage, nodeImage } from "../support/images";
import { waitUntil } from "../support/wait";
import { buildMonitor, removeMonitorBuild } from "./support/build";
import { parseExposition, sampleValue } from "./support/prom";
import {
  auditLines,
  fetchText,
  LEAKED_GROUPS,
  LIVE_GROUPS,
  REPARENTED_GROUP,
  startMonitor,
  startTarget,
  startTimeOf,
  targetProcesses,
  TEST_GRACE_MS,
  TEST_INTERVAL_MS,
  TEST_MONITOR_ENV,
  writeTargetScripts,
  type MonitorRun,
  type PsLine,
} from "./support/target";

const INTERVAL_MS = TEST_INTERVAL_MS;
const GRACE_MS = TEST_GRACE_MS;
/** The cap is opt-in (a kill of a live group is a crash to MetaMCP); this suite turns it on to prove it. */
const MONITOR_ENV = { ...TEST_MONITOR_ENV, MONITOR_MAX_GROUPS: "3" };
/** Every group the monitor must reap: the leaks, the re-parented one, and the oldest live one (over the cap of 3). */
const ORPHANS = [...LEAKED_GROUPS, REPARENTED_GROUP];

const serverOf = (cmdline: string) => /server-([\w-]+)/.exec(cmdline)?.[1];
const alive = (ps: PsLine[]) => ps.filter((p) => !p.stat.startsWith("Z"));
/** Pids of the target's processes, less the `sleep 1` PID 1's loop runs anew every second. */
const steady = (ps: PsLine[]) => ps.filter((p) => p.args !== "sleep 1").map((p) => p.pid);
const groupsRunning = (ps: PsLine[]) => new Set(alive(ps).map((p) => serverOf(p.args)).filter(Boolean));

describeWithDocker("process monitor on a real engine", () => {
  let target: string;
  let node: string;
  let build: string;
  let scripts: string;
  let mainPid: number;
  let identity: { pid1: string; main: string };
  /** The (non-dry-run) monitor, kept running for the restart test. */
  let reaper: MonitorRun | undefined;

  beforeAll(async () => {
    [node, target] = await Promise.all([
      nodeImage(),
      busyboxImage().then((image) => {
        scripts = writeTargetScripts();
        return startTarget(image, scripts);
      }),
    ]);
    build = buildMonitor();
    const ps = await targetProcesses(target);
    mainPid = ps.find((p) => p.args === "/bin/sh /fake/metamcp-server")!.pid;
    identity = { pid1: await startTimeOf(target, 1), main: await startTimeOf(target, mainPid) };
  });

  afterAll(async () => {
    try {
      await removeTestContainers();
    } finally {
      if (scripts) fs.rmSync(scripts, { recursive: true, force: true });
      removeMonitorBuild();
    }
  });

  it("the target leaks as designed: seven MCP groups, two zombies", async () => {
    const ps = await targetProcesses(target);
    expect([...groupsRunning(ps)].sort()).toEqual([...LIVE_GROUPS, ...ORPHANS].sort());
    expect(ps.filter((p) => p.stat.startsWith("Z"))).toHaveLength(2);
  });

  it("dry-run: decides and logs every reap, and signals nothing", async () => {
    const before = await targetProcesses(target);
    const monitor = await startMonitor(node, build, target, { ...MONITOR_ENV, MONITOR_DRY_RUN: "true" });
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 3 * INTERVAL_MS));
    const reaps = (await auditLines(monitor.id)).filter((r) => r.event === "reap");
    await docker("rm", "-f", monitor.id);

    expect(reaps.every((r) => r.outcome === "dry-run" && r.signal === null && r.dryRun === true)).toBe(true);
    // Every group it would reap is named, once, though every scan decides the same again.
    expect(reaps.map((r) => serverOf(r.cmdline)).sort()).toEqual([...ORPHANS, "live-1"].sort());
    const after = await targetProcesses(target);
    expect(steady(after)).toEqual(steady(before));
  });

  it("reaps orphans within grace + two intervals, keeps live groups at the cap, and leaves PID 1 and the server alone", async () => {
    const monitor = await startMonitor(node, build, target, MONITOR_ENV);
    reaper = monitor;
    await waitUntil(
      async () => (await auditLines(monitor.id)).filter((r) => r.event === "reap").length >= ORPHANS.length + 1,
      GRACE_MS + 2 * INTERVAL_MS + 5000,
      "five reaps",
    );
    await waitUntil(async () => groupsRunning(await targetProcesses(target)).size === 3, 5000, "reaped groups to exit");

    const audit = await auditLines(monitor.id);
    const start = audit.find((r) => r.event === "start")!;
    expect(start).toMatchObject({ uid: 0, capEff: "20" }); // CAP_KILL alone
    expect(start.warnings).toBeUndefined();

    const reaps = audit.filter((r) => r.event === "reap");
    const byServer = new Map(reaps.map((r) => [serverOf(r.cmdline), r]));
    expect([...byServer.keys()].sort()).toEqual([...ORPHANS, "live-1"].sort());

    for (const name of ORPHANS) {
      const reap = byServer.get(name)!;
      expect(reap).toMatchObject({ reason: "orphaned", state: "orphaned", dryRun: false });
      expect(reap.rssBytes).toBeGreaterThan(0);
      expect(reap.members).toBeGreaterThanOrEqual(2);
      // Decided (the line is written when the reap is over) within grace + two intervals of the first scan.
      const decidedMs = Date.parse(reap.ts) - reap.durationMs - Date.parse(start.ts);
      expect(decidedMs).toBeLessThanOrEqual(GRACE_MS + 2 * INTERVAL_MS);
    }
    expect(byServer.get("leak-1")).toMatchObject({ signal: "SIGTERM", signals: ["SIGTERM"], outcome: "exited" });
    expect(byServer.get("leak-1")!.detail).toMatch(/^leader \d+ has exited; orphaned for/);
    expect(byServer.get("stubborn")).toMatchObject({ signal: "SIGKILL", signals: ["SIGTERM", "SIGKILL"], outcome: "killed" });
    expect(byServer.get(REPARENTED_GROUP)!.detail).toMatch(/^leader's parent is 1 \(\/bin\/sh \/fake\/entrypoint.sh\), not the server/);
    // Four live groups, cap three: the oldest (all idle) goes, and only it.
    expect(byServer.get("live-1")).toMatchObject({ reason: "over-cap", state: "live", outcome: "exited", detail: "4 live groups > cap 3" });

    const ps = await targetProcesses(target);
    expect([...groupsRunning(ps)].sort()).toEqual(["live-2", "live-3", "live-4"]);
    expect(await startTimeOf(target, 1)).toBe(identity.pid1);
    expect(await startTimeOf(target, mainPid)).toBe(identity.main);

    const zombies = audit.filter((r) => r.event === "zombie" && r.parentCmdline === "sleep 100000");
    expect(zombies).toHaveLength(2);

    // The gauges describe the last scan: wait for one that ran after the last reap finished.
    const scrape = async () => parseExposition((await fetchText(monitor.port, "/metrics"))!.text);
    await waitUntil(
      async () => sampleValue(await scrape(), "metamcp_monitor_mcp_groups", { state: "orphaned" }) === 0,
      3 * INTERVAL_MS,
      "a scan without orphans",
    );
    const metrics = await scrape();
    expect(sampleValue(metrics, "metamcp_monitor_mcp_groups", { state: "live" })).toBe(3);
    expect(sampleValue(metrics, "metamcp_monitor_reaped_total", { reason: "orphaned" })).toBe(4);
    expect(sampleValue(metrics, "metamcp_monitor_reaped_total", { reason: "over-cap" })).toBe(1);
    expect(sampleValue(metrics, "metamcp_monitor_zombies")).toBeGreaterThanOrEqual(2);
    expect(sampleValue(metrics, "metamcp_monitor_main_server_up")).toBe(1);
    expect((await fetchText(monitor.port, "/healthz"))!.status).toBe(200);
  });

  it("comes back into the new PID namespace after the target restarts, and reaps there", async () => {
    expect(reaper, "needs the monitor the previous test started").toBeDefined();
    const { id: monitor, port } = reaper!;
    await docker("restart", "-t", "2", target);

    await waitUntil(
      async () => (await docker("inspect", "-f", "{{.RestartCount}} {{.State.Running}}", monitor)) === "1 true",
      15_000,
      "the monitor to be restarted",
    );
    const namespaceOf = async (id: string) => fs.readlinkSync(`/proc/${await docker("inspect", "-f", "{{.State.Pid}}", id)}/ns/pid`);
    expect(await namespaceOf(monitor)).toBe(await namespaceOf(target));

    // The restarted target leaks again; the restarted monitor reaps in the new namespace.
    await waitUntil(
      async () => (await auditLines(monitor)).filter((r) => r.event === "start").length === 2,
      10_000,
      "a second start line",
    );
    await waitUntil(
      async () => {
        const audit = await auditLines(monitor);
        const secondStart = audit.map((r) => r.event).lastIndexOf("start");
        return audit.slice(secondStart).some((r) => r.event === "reap" && serverOf(r.cmdline) === "leak-1" && r.outcome === "exited");
      },
      GRACE_MS + 2 * INTERVAL_MS + 8000,
      "leak-1 reaped after the restart",
    );
    expect((await fetchText(port, "/healthz"))!.status).toBe(200);
  });

  it("as a non-root user, --cap-add KILL is not effective: the monitor says so at start and its signals fail", async () => {
    await docker("rm", "-f", reaper!.id);
    await docker("restart", "-t", "2", target); // fresh leaks
    const monitor = await startMonitor(node, build, target, MONITOR_ENV, "10001:10001");
    await waitUntil(
      async () => (await auditLines(monitor.id)).some((r) => r.event === "reap" && r.reason === "orphaned"),
      GRACE_MS + 2 * INTERVAL_MS + 5000,
      "an orphan reap attempt",
    );
    const audit = await auditLines(monitor.id);
    expect(audit.find((r) => r.event === "start")).toMatchObject({ uid: 10001, capEff: "0" });
    expect(audit.find((r) => r.event === "start")!.warnings[0]).toMatch(/^no CAP_KILL in the effective set/);
    const attempt = audit.find((r) => r.event === "reap" && r.reason === "orphaned")!;
    expect(attempt).toMatchObject({ outcome: "failed", signals: [] });
    expect(attempt.error).toMatch(/^SIGTERM to group \d+: EPERM$/);
    expect(groupsRunning(await targetProcesses(target)).size).toBe(LIVE_GROUPS.length + ORPHANS.length);
  });
});
