// Leak under the monitor: a MetaMCP stand-in under the prod stack's limits leaks one MCP server group per
// second for a minute (600 leftover processes: more than the prod PID cap of 577) while the monitor sidecar runs
// beside it with the prod stack's monitor settings (graces shortened so a minute shows a steady state).
// The task count stays well under the cap, no live group and not the server are touched, and the audit log
// has exactly one reap record per leaked group.
import * as fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildMonitor, removeMonitorBuild } from "../monitor/support/build";
import { describeWithDocker, docker, removeTestContainers } from "../support/docker";
import { nodeImage } from "../support/images";
import { containerCgroup, readPids } from "./support/cgroup";
import { declaredSpec, type GuardSpec, reportFigures, startGuarded } from "./support/guarded";
import { LEAK_MAIN_PATTERN, parseLeakLog, PROCESSES_PER_LEAK, PROCESSES_PER_LIVE, writeLeakScripts } from "./support/leakTarget";
import { auditLog, declaredMonitorSpec, type MonitorSpec, startMonitor } from "./support/monitorSidecar";
import { freePort } from "../support/net";
import { waitUntil } from "../support/wait";

const LIVE = 3;
const LEAKS = 60;
const LEAK_EVERY_SECONDS = 1;
/**
 * Prod's own timings (scan every 5 s, 30 s orphan grace) would reap only in the last half of a one-minute
 * run; these keep the same mechanism and show its steady state. Every other setting (max groups, RSS budget,
 * emergency threshold derived from the PID cap) is prod's.
 */
const MONITOR_TIMINGS = { interval: "1s", orphanGrace: "5s", killGrace: "2s" };

interface Proc {
  pid: number;
  /** Equal to the session id here: every group is started with setsid, so its leader leads both. */
  pgid: number;
  args: string;
}

/** The target's processes as its own `ps` sees them (the exec'd ps left out). */
async function processes(target: string): Promise<Proc[]> {
  const out = await docker("exec", target, "ps", "-o", "pid,pgid,args");
  return out
    .split("\n")
    .slice(1)
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), args: m[3] }))
    .filter((p) => !p.args.startsWith("ps -o"));
}

describeWithDocker("MCP groups leaking for a minute under the monitor", () => {
  let app: GuardSpec;
  let monitorSpec: MonitorSpec;
  let image: string;
  let buildDir: string;
  let scripts: string;

  beforeAll(async () => {
    app = await declaredSpec("prod");
    monitorSpec = await declaredMonitorSpec("prod", {
      ...MONITOR_TIMINGS,
      mainPattern: LEAK_MAIN_PATTERN,
      metrics: { port: await freePort() },
    });
    image = await nodeImage();
    buildDir = buildMonitor();
    scripts = writeLeakScripts();
  });
  afterAll(async () => {
    try {
      await removeTestContainers();
    } finally {
      if (scripts) fs.rmSync(scripts, { recursive: true, force: true });
      removeMonitorBuild();
    }
  });

  it(
    "the task count stays well under the PID cap, nothing live is killed, and the audit log has one reap per leaked group",
    async () => {
      const target = await startGuarded(app, [
        "--network", "none", "--user", "1001:1001", "-v", `${scripts}:/load:ro`,
        "-e", `LIVE=${LIVE}`, "-e", `LEAKS=${LEAKS}`, "-e", `LEAK_EVERY=${LEAK_EVERY_SECONDS}`,
        image, "/bin/sh", "/load/metamcp-server",
      ]);
      const pids = await containerCgroup(target);
      expect((await readPids(pids)).max).toBe(app.pids);
      await waitUntil(async () => parseLeakLog(await docker("logs", target)).live.size === LIVE, 10_000, "the live groups");
      const liveSids = new Set(parseLeakLog(await docker("logs", target)).live.values());
      // What the monitor must never touch: the server, and every process of a live group's session.
      const isProtected = (p: Proc) => liveSids.has(p.pgid) || /metamcp-server/.test(p.args);
      // Each live group is a wrapper, a server and its sleep once started.
      await waitUntil(
        async () => (await processes(target)).filter((p) => liveSids.has(p.pgid)).length === PROCESSES_PER_LIVE * LIVE,
        10_000,
        "the live groups' servers",
      );
      const protectedBefore = (await processes(target)).filter(isProtected);
      const monitor = await startMonitor(monitorSpec, target, { image, buildDir });

      let peakSampled = 0;
      const started = Date.now();
      await waitUntil(
        async () => {
          peakSampled = Math.max(peakSampled, (await readPids(pids)).current);
          return parseLeakLog(await docker("logs", target)).done;
        },
        (LEAKS * LEAK_EVERY_SECONDS + 20) * 1000,
        "the stand-in to finish leaking",
      );
      const leakSeconds = (Date.now() - started) / 1000;
      // The last leaks are reaped one grace (plus a scan and the kill grace) later, and each reap's record is
      // written once its group has gone: wait for both, so neither is missed by reading too early.
      const leaked = parseLeakLog(await docker("logs", target));
      const leakSids = new Set(leaked.leaks.values());
      await waitUntil(
        async () => {
          peakSampled = Math.max(peakSampled, (await readPids(pids)).current);
          const reaped = new Set((await auditLog(monitor)).filter((r) => r.event === "reap").map((r) => r.sid));
          const leftover = (await processes(target)).some((p) => /server-leak-/.test(p.args));
          return !leftover && [...leakSids].every((sid) => reaped.has(sid));
        },
        20_000,
        "the last leaked groups to be reaped and logged",
      ).catch(() => undefined); // the assertions below say what is missing
      const audit = await auditLog(monitor);
      const reaps = audit.filter((r) => r.event === "reap");
      const reapedSids = reaps.map((r) => r.sid as number);
      const outcomes: Record<string, number> = {};
      for (const r of reaps) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      const protectedAfter = (await processes(target)).filter(isProtected);
      const peakKernel = (await readPids(pids)).peak;
      reportFigures("leak-under-monitor", {
        stack: app.stack,
        pidsCap: app.pids,
        monitorSettings: { ...MONITOR_TIMINGS, emergencyTasks: monitorSpec.env.MONITOR_EMERGENCY_TASKS, maxGroups: monitorSpec.env.MONITOR_MAX_GROUPS },
        leakedGroups: leaked.leaks.size,
        leakedProcesses: leaked.leaks.size * PROCESSES_PER_LEAK,
        leakSeconds,
        peakTasks: peakKernel,
        peakTasksSampled: peakSampled,
        reaps: reaps.length,
        reapOutcomes: outcomes,
        reapReasons: [...new Set(reaps.map((r) => r.reason))],
        maxGroupAgeAtReapSeconds: Math.max(...reaps.map((r) => r.ageSeconds as number)),
        liveProcessesKept: `${protectedAfter.filter((p) => liveSids.has(p.pgid)).length} of ${PROCESSES_PER_LIVE * LIVE}`,
        otherAuditEvents: audit.filter((r) => !["reap", "start"].includes(r.event)).map((r) => r.event),
      });

      // Every leak was spawned (a failed fork would have stopped the stand-in), and unreaped they would
      // not have fit under the cap: the bound below is the monitor's doing.
      expect(leaked.leaks.size).toBe(LEAKS);
      expect(leaked.leaks.size * PROCESSES_PER_LEAK).toBeGreaterThan(app.pids);
      // Well under the cap: at most half of it, at any time.
      expect(peakKernel).toBeLessThanOrEqual(app.pids / 2);
      // One reap record per leaked group, each for a leaked group, each one done.
      expect(reapedSids.length).toBe(new Set(reapedSids).size);
      expect(new Set(reapedSids)).toEqual(leakSids);
      expect(Object.keys(outcomes).every((o) => o === "exited" || o === "killed"), JSON.stringify(outcomes)).toBe(true);
      expect(reaps.every((r) => r.reason === "orphaned" && r.dryRun === false)).toBe(true);
      // Nothing live was touched: same processes (same pids) before and after, no reap of their sessions.
      expect(protectedAfter).toEqual(protectedBefore);
      expect(reapedSids.filter((sid) => liveSids.has(sid))).toEqual([]);
      expect(audit.filter((r) => r.event === "reap-error" || r.event === "scan-error")).toEqual([]);
      expect(await docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", monitor)).toBe("true 0");
    },
    120_000,
  );
});
