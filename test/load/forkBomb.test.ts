// Fork bomb inside a container under the prod stack's declared limits (PID cap applied by our PidsLimit
// provider): the process count stops at the cap, a process already running in the container keeps working,
// and a service on the host keeps answering within 1 s.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithDocker, docker, removeTestContainers } from "../support/docker";
import { nodeImage } from "../support/images";
import { containerCgroup, readPids } from "./support/cgroup";
import { declaredSpec, type GuardSpec, reportFigures, startGuarded } from "./support/guarded";
import { startHostProbe } from "./support/hostProbe";
import { FORK_BOMB, HEARTBEAT, heartbeatAgeMs, watchHeartbeat } from "./support/programs";
import { waitUntil } from "../support/wait";

/** Long enough for thousands of refused forks and a steady state at the cap; short enough for CI. */
const BOMB_MS = 15_000;

describeWithDocker("fork bomb under the prod stack's limits", () => {
  let spec: GuardSpec;
  let image: string;
  let beatDir: string;

  beforeAll(async () => {
    spec = await declaredSpec("prod");
    image = await nodeImage();
    beatDir = fs.mkdtempSync(path.join(os.tmpdir(), "metamcp-guard-forkbomb-"));
  });
  afterAll(async () => {
    try {
      await removeTestContainers();
    } finally {
      if (beatDir) fs.rmSync(beatDir, { recursive: true, force: true });
    }
  });

  it(
    "the PID count stops at the declared cap, the container's running process keeps beating, the host answers within 1 s",
    async () => {
      const id = await startGuarded(spec, [
        "--network", "none", "-v", `${beatDir}:/beat`, "-e", "BEAT_NAME=app", image, "node", "-e", HEARTBEAT,
      ]);
      await waitUntil(() => heartbeatAgeMs(beatDir, "app") < 500, 10_000, "the heartbeat to start");
      const pids = await containerCgroup(id);
      // The kernel holds the value our provider set: this is what makes the rest of the test mean something.
      const before = await readPids(pids);
      expect(before.max).toBe(spec.pids);
      const deniedBefore = before.denied;

      const probe = await startHostProbe();
      const beat = watchHeartbeat(beatDir, "app");
      let peakSampled = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peakSampled = Math.max(peakSampled, (await readPids(pids)).current);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();

      let bombOutput: string;
      try {
        bombOutput = await docker("exec", "-e", `BOMB_MS=${BOMB_MS}`, id, "node", "-e", FORK_BOMB);
      } finally {
        sampling = false;
        await sampler;
      }
      const probeStats = await probe.stop();
      const worstBeatGapMs = await beat.stop();

      const bomb = JSON.parse(bombOutput.split("\n").at(-1)!) as { spawned: number; refused: number; otherErrors: object };
      const after = await readPids(pids);
      const peakKernel = after.peak;
      const forkDenials = after.denied - deniedBefore;
      reportFigures("fork-bomb", {
        stack: spec.stack,
        pidsCap: spec.pids,
        peakPids: peakKernel,
        peakPidsSampled: peakSampled,
        spawned: bomb.spawned,
        refusedBySpawner: bomb.refused,
        forkDenialsByKernel: forkDenials,
        bombSeconds: BOMB_MS / 1000,
        heartbeatWorstGapMs: worstBeatGapMs,
        probeMaxLatencyMs: probeStats.maxLatencyMs,
        probeMedianLatencyMs: probeStats.medianLatencyMs,
        probeSamples: probeStats.samples,
        probeFailures: probeStats.failures,
      });

      // The bomb did reach the cap and kept trying: the cap, not a tired bomb, is what stopped it.
      expect(peakKernel).toBe(spec.pids);
      expect(peakSampled).toBeLessThanOrEqual(spec.pids);
      expect(bomb.refused).toBeGreaterThan(100);
      expect(forkDenials).toBeGreaterThan(100);
      expect(bomb.otherErrors).toEqual({});
      // The process that was running before kept working throughout (it writes every 100 ms).
      expect(worstBeatGapMs).toBeLessThan(1_000);
      expect(await docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", id)).toBe("true 0");
      // The host stayed responsive.
      expect(probeStats.failures, probeStats.errors.join("; ")).toBe(0);
      expect(probeStats.samples).toBeGreaterThan(BOMB_MS / 1000 * 5);
      expect(probeStats.maxLatencyMs).toBeLessThan(1_000);
    },
    60_000,
  );
});
