// CPU hog under the dev stack's declared CPU cap (prod's 2 CPUs equal this whole 2-core machine, so only a
// smaller cap shows anything): busy loops on every core of the host, and the container's CPU time over a
// window, read from its cgroup (cpuacct.usage on v1, cpu.stat on v2), stays within the cap while a service on the host keeps answering.
import * as os from "node:os";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithDocker, docker, removeTestContainers } from "../support/docker";
import { busyboxImage } from "../support/images";
import { containerCgroup, readCpu } from "./support/cgroup";
import { declaredSpec, type GuardSpec, reportFigures, startGuarded } from "./support/guarded";
import { startHostProbe } from "./support/hostProbe";

/** Time for the loops to start and the scheduler to settle before measuring. */
const WARMUP_MS = 2_000;
const WINDOW_MS = 8_000;
/** The loops end by themselves after this, whatever happens to the test. */
const LOOP_SECONDS = 30;

describeWithDocker("CPU hog under the dev stack's CPU cap", () => {
  let spec: GuardSpec;
  let image: string;

  beforeAll(async () => {
    spec = await declaredSpec("dev");
    image = await busyboxImage();
  });
  afterAll(removeTestContainers);

  it("busy loops on every core use no more than the declared CPUs over an 8 s window; the host answers within 1 s", async () => {
    const cap = Number(spec.cpus);
    const cores = os.cpus().length;
    // Otherwise the loops could not ask for more than the cap and the test would prove nothing.
    expect(cores, `dev's cap of ${cap} CPUs must be below this machine's ${cores} cores`).toBeGreaterThan(cap);

    const id = await startGuarded(spec, ["--network", "none", image, "sleep", "120"]);
    const cpu = await containerCgroup(id);
    // CFS quota/period is how Docker writes --cpus (cpu.cfs_quota_us on v1, cpu.max on v2).
    expect((await readCpu(cpu)).quotaCpus).toBeCloseTo(cap, 5);

    for (let i = 0; i < cores; i++) {
      await docker("exec", "-d", id, "timeout", String(LOOP_SECONDS), "sh", "-c", "while :; do :; done");
    }
    const probe = await startHostProbe();
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    const before = await readCpu(cpu);
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const after = await readCpu(cpu);
    const t1 = process.hrtime.bigint();
    const throttled = after.throttledPeriods - before.throttledPeriods;
    const periods = after.periods - before.periods;
    const probeStats = await probe.stop();
    const loopsLeft = (await docker("exec", id, "ps", "-o", "comm")).split("\n").filter((c) => c.trim() === "sh").length;

    // Nanoseconds of CPU time over the same number of wall-clock nanoseconds is CPUs used.
    const cpusUsed = (after.usageNs - before.usageNs) / Number(t1 - t0);
    reportFigures("cpu-hog", {
      stack: spec.stack,
      cpuCap: cap,
      cores,
      busyLoops: cores,
      windowSeconds: WINDOW_MS / 1000,
      cpusUsed: Math.round(cpusUsed * 1000) / 1000,
      shareOfCap: Math.round((cpusUsed / cap) * 1000) / 1000,
      shareOfMachine: Math.round((cpusUsed / cores) * 1000) / 1000,
      throttledPeriods: throttled,
      periods,
      probeMaxLatencyMs: probeStats.maxLatencyMs,
      probeMedianLatencyMs: probeStats.medianLatencyMs,
      probeSamples: probeStats.samples,
      probeFailures: probeStats.failures,
    });

    // The loops were still spinning at the end of the window (a loop that died would also "stay within").
    expect(loopsLeft).toBe(cores);
    // Within the cap (5 % for accounting granularity).
    expect(cpusUsed).toBeLessThanOrEqual(cap * 1.05);
    // And the cap is what held them: the cgroup ran out of quota in some periods (throttled). The share
    // itself is only loosely bounded from below: on a machine shared with other work (other engineers'
    // tests here) the loops get less than the cap; alone they get 0.95-1.0 of it.
    expect(throttled).toBeGreaterThan(0);
    expect(cpusUsed).toBeGreaterThan(cap * 0.5);
    expect(probeStats.failures, probeStats.errors.join("; ")).toBe(0);
    expect(probeStats.maxLatencyMs).toBeLessThan(1_000);
  }, 60_000);
});
