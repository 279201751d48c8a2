// Faults around the monitor sidecar: MetaMCP's container crashing and being restarted by its policy, and the
// Docker daemon restarting. The monitor lives in the target's PID namespace, so it dies with it; what must
// hold is that the product's mechanisms bring both back, the monitor inside the target's new namespace and
// reaping again, and the PID cap still in force. Those mechanisms are the restart policies and, for the
// monitor, the keeper: Docker 20.10 often restarts the monitor while the target is still "restarting", that
// start fails and is never retried (about 4 crashes in 50), and the keeper's timer on the host starts it
// again. The timer is emulated here by running the keeper's own script on the stack's interval
// (support/keeperTimer.ts). The daemon restart runs on a private daemon (see support/privateDaemon.ts): the
// shared engine is never restarted.
import * as fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildMonitor, removeMonitorBuild } from "../monitor/support/build";
import { describeWithDocker, docker, type DockerCliError, removeTestContainers } from "../support/docker";
import { nodeImage } from "../support/images";
import { declareStack } from "../support/mocks";
import { containerCgroup, readPids } from "./support/cgroup";
import { declaredSpec, DOCKER_HOST, type GuardSpec, reportFigures, startGuarded } from "./support/guarded";
import { LEAK_MAIN_PATTERN, writeLeakScripts } from "./support/leakTarget";
import {
  type AuditRecord,
  auditLog,
  declaredMonitorSpec,
  monitorHealthy,
  type MonitorSpec,
  startMonitor,
} from "./support/monitorSidecar";
import { nameOf, startKeeperTimer } from "./support/keeperTimer";
import { type PrivateDaemon, startPrivateDaemon } from "./support/privateDaemon";
import { freePort } from "../support/net";
import { waitUntil } from "../support/wait";

/** Short graces, so a reap shows within seconds of a leak, before and after each fault. */
const MONITOR_TIMINGS = { interval: "1s", orphanGrace: "2s", killGrace: "2s" };
/** The stand-in leaks one group every 2 s for as long as a test needs (the container is removed after). */
const TARGET_ENV = ["-e", "LIVE=1", "-e", "LEAKS=100", "-e", "LEAK_EVERY=2"];

/** The stand-in's log split into runs (each run starts by printing its live group). */
function runsOf(log: string): string[][] {
  const runs: string[][] = [];
  for (const line of log.split("\n").map((l) => l.trim())) {
    if (line.startsWith("live 1 ")) runs.push([]);
    runs.at(-1)?.push(line);
  }
  return runs;
}

const leakSids = (run: string[]) => new Set(run.filter((l) => l.startsWith("leak ")).map((l) => Number(l.split(" ")[2])));

/** Reap records after the monitor's `n`-th start record (1-based). */
function reapsAfterStart(audit: AuditRecord[], n: number): AuditRecord[] {
  let starts = 0;
  return audit.filter((r) => (r.event === "start" ? (starts++, false) : starts >= n && r.event === "reap"));
}

describeWithDocker("the monitor through faults", () => {
  let app: GuardSpec;
  let image: string;
  let buildDir: string;
  let scripts: string;
  let daemon: PrivateDaemon | undefined;
  /** The prod stack's host.keeper.interval, in seconds: how often the emulated timer runs the keeper. */
  let keeperInterval: number;

  const monitorSpec = async (): Promise<MonitorSpec> =>
    declaredMonitorSpec("prod", { ...MONITOR_TIMINGS, mainPattern: LEAK_MAIN_PATTERN, metrics: { port: await freePort() } });

  beforeAll(async () => {
    app = await declaredSpec("prod");
    keeperInterval = (await declareStack("prod")).config.host.keeper.interval;
    image = await nodeImage();
    buildDir = buildMonitor();
    scripts = writeLeakScripts();
  });
  afterAll(async () => {
    // Each cleanup runs whatever the one before it did.
    try {
      await removeTestContainers();
    } finally {
      try {
        await daemon?.dispose();
      } finally {
        if (scripts) fs.rmSync(scripts, { recursive: true, force: true });
        removeMonitorBuild();
      }
    }
  });

  /** Target and monitor on `host`, and the first reap seen (the monitor works before the fault). */
  async function targetAndMonitor(host: string) {
    const spec = await monitorSpec();
    const target = await startGuarded(
      app,
      ["--network", "none", "--user", "1001:1001", "-v", `${scripts}:/load:ro`, ...TARGET_ENV, image, "/bin/sh", "/load/metamcp-server"],
      host,
    );
    const monitor = await startMonitor(spec, target, { image, buildDir, dockerHost: host });
    await waitUntil(async () => reapsAfterStart(await auditLog(monitor, host), 1).length > 0, 20_000, "a first reap");
    return { spec, target, monitor };
  }

  /**
   * After a fault: both running again (by the restart policies or the keeper, whose timer runs from now on),
   * the monitor healthy, reaping the new run's leaks, the cap in force.
   */
  async function expectRecovered(host: string, target: string, monitor: MonitorSpec & { id: string }, scenario: string, extra: object) {
    const faultAt = Date.now();
    const keeper = startKeeperTimer(
      { stack: app.stack, monitor: await nameOf(monitor.id, host), app: await nameOf(target, host), intervalSeconds: keeperInterval },
      host,
    );
    // A reap by the restarted monitor of a group leaked by the restarted target: it sees the new namespace.
    const secondRunLeaks = async () => leakSids(runsOf(await docker("-H", host, "logs", target))[1] ?? []);
    try {
      await waitUntil(
        async () => (await docker("-H", host, "inspect", "-f", "{{.State.Running}}", target, monitor.id)) === "true\ntrue",
        30_000,
        "target and monitor to run again",
      ).catch(async (err: Error) => {
        // Docker's restart policy may give up on the monitor (the race above); the keeper should then have
        // started it within one interval. Say what each did rather than just "timed out".
        const states = await docker("-H", host, "inspect", "-f", "{{.Name}} {{.State.Status}} restarts={{.RestartCount}} error={{.State.Error}}", target, monitor.id);
        throw new Error(`${err.message}; container states:\n${states}\nkeeper runs: ${JSON.stringify(keeper.runs)}`);
      });
      await waitUntil(() => monitorHealthy(monitor.metricsPort), 15_000, "the restarted monitor's /healthz");
      await waitUntil(
        async () => {
          const fresh = await secondRunLeaks();
          return reapsAfterStart(await auditLog(monitor.id, host), 2).some((r) => fresh.has(r.sid));
        },
        30_000,
        "the restarted monitor to reap a group leaked after the fault",
      ).catch(() => undefined); // the assertions below say what is missing
    } finally {
      await keeper.stop();
    }
    const audit = await auditLog(monitor.id, host);
    const fresh = await secondRunLeaks();
    const reapsAfter = reapsAfterStart(audit, 2);
    const [targetRestarts, monitorRestarts] = (
      await docker("-H", host, "inspect", "-f", "{{.RestartCount}}", target, monitor.id)
    ).split("\n").map(Number);
    const pidsMax = (await readPids(await containerCgroup(target, host))).max;
    const mainFound = audit.filter((r) => r.event === "main-server-found").map((r) => r.pids);
    const keeperStarts = keeper.starts();
    const broughtBackBy = keeperStarts.length > 0 ? "keeper" : "restart policy";
    reportFigures(scenario, {
      ...extra,
      // Which mechanism brought the monitor back: its restart policy, or the keeper after Docker gave up.
      monitorBroughtBackBy: broughtBackBy,
      keeperIntervalSeconds: keeperInterval,
      keeperRuns: keeper.runs.length,
      keeperStartedMsAfterFault: keeperStarts.length > 0 ? keeperStarts[0].at - faultAt : null,
      targetRestartCount: targetRestarts,
      monitorRestartCount: monitorRestarts,
      monitorStarts: audit.filter((r) => r.event === "start").length,
      mainServerFound: mainFound,
      reapsBeforeFault: reapsAfterStart(audit, 1).length - reapsAfter.length,
      reapsAfterFault: reapsAfter.length,
      reapsAfterFaultOfNewLeaks: reapsAfter.filter((r) => fresh.has(r.sid)).length,
      targetPidsMaxAfter: pidsMax,
    });
    // The keeper never failed a start (it starts only while the target runs), and started the monitor at most once.
    expect(keeper.runs.filter((r) => r.code !== 0)).toEqual([]);
    expect(keeperStarts.length).toBeLessThanOrEqual(1);
    // The monitor started a second time (its policy or the keeper brought it back) and found the new server.
    expect(audit.filter((r) => r.event === "start").length).toBe(2);
    expect(mainFound.length).toBeGreaterThanOrEqual(2);
    // It reaps the new run's leaks, and only leaked groups.
    expect(reapsAfter.filter((r) => fresh.has(r.sid)).length).toBeGreaterThan(0);
    expect(reapsAfter.every((r) => r.reason === "orphaned" && ["exited", "killed"].includes(r.outcome))).toBe(true);
    // The PID cap survived the restart: Docker keeps it in the container's HostConfig.
    expect(pidsMax).toBe(app.pids);
    return broughtBackBy;
  }

  /** MetaMCP's crash, and its restart policy acting on it. */
  async function crashTarget(target: string) {
    // The crash: the server (not PID 1: the init is) is killed, so the container's main process exits.
    // (PID 1's command line, "docker-init -- /bin/sh /load/metamcp-server", contains the server's: match
    // the whole args. Inside its namespace, a SIGKILL to PID 1 would be ignored.)
    const serverPid = (await docker("exec", target, "ps", "-o", "pid,args"))
      .split("\n")
      .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
      .find((m) => m?.[2] === "/bin/sh /load/metamcp-server")?.[1];
    expect(serverPid, "the stand-in's server process").toMatch(/^\d+$/);
    // The exec'd kill itself is in the namespace that dies: its own exit 137 is part of the crash.
    await docker("exec", target, "kill", "-KILL", serverPid!).catch((err: DockerCliError) => {
      if (err.exitCode !== 137) throw err;
    });
    await waitUntil(
      async () => Number(await docker("inspect", "-f", "{{.RestartCount}}", target)) >= 1,
      15_000,
      "the target's restart policy to act",
    );
  }

  it(
    "MetaMCP's container crashes: its restart policy brings it back, the monitor's policy or the keeper brings the monitor back into the new PID namespace, and reaping resumes",
    async () => {
      const { spec, target, monitor } = await targetAndMonitor(DOCKER_HOST);
      await crashTarget(target);
      await expectRecovered(DOCKER_HOST, target, { ...spec, id: monitor }, "monitor-survives-target-restart", {
        fault: "MetaMCP's main process killed",
        targetRestartPolicy: app.restart,
        monitorRestartPolicy: spec.restart,
      });
      expect(Number(await docker("inspect", "-f", "{{.RestartCount}}", target))).toBe(1);
    },
    90_000,
  );

  it(
    "the keeper alone brings the monitor back when Docker's restart of it does not happen (its policy set to no, as after a failed restart)",
    async () => {
      const { spec, target, monitor } = await targetAndMonitor(DOCKER_HOST);
      // What the race leaves behind, made certain: no restart of the monitor by Docker after the crash.
      await docker("update", "--restart", "no", monitor);
      await crashTarget(target);
      const broughtBackBy = await expectRecovered(DOCKER_HOST, target, { ...spec, id: monitor }, "keeper-restarts-monitor", {
        fault: "MetaMCP's main process killed; monitor's restart policy off",
        targetRestartPolicy: app.restart,
        monitorRestartPolicy: "no",
      });
      expect(broughtBackBy).toBe("keeper");
      expect(Number(await docker("inspect", "-f", "{{.RestartCount}}", monitor))).toBe(0);
    },
    90_000,
  );

  it(
    "the Docker daemon restarts: both containers come back (restart policies, or the keeper for the monitor), the monitor reaps again, the PID cap holds",
    async () => {
      daemon = await startPrivateDaemon();
      await daemon.loadImage(image);
      const { spec, target, monitor } = await targetAndMonitor(daemon.host);
      const started = Date.now();
      await daemon.restart();
      const daemonRestartSeconds = (Date.now() - started) / 1000;
      try {
        await expectRecovered(daemon.host, target, { ...spec, id: monitor }, "monitor-survives-daemon-restart", {
          fault: "dockerd restarted (private daemon)",
          daemonRestartSeconds,
          targetRestartPolicy: app.restart,
          monitorRestartPolicy: spec.restart,
        });
      } catch (err) {
        throw new Error(`${(err as Error).message}\nprivate dockerd log:\n${daemon.log()}`);
      }
    },
    90_000,
  );
});
