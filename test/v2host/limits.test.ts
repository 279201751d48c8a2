/**
 * The limit proofs that depend on the cgroup version, on a cgroup v2 host: the VM scripts/v2host/vm.sh
 * boots (Debian 12, systemd, Docker 20.10 with its systemd cgroup driver, 1 GiB of swap). Containers are
 * made from the stack's own settings (a throwaway stack, small limits) and capped and started by the
 * PidsLimit provider as `pulumi up` does; verify and verify-host run over SSH as an operator runs them.
 *
 * One VM for the whole file, tests in order. Each prints its figures on a `V2HOST-FIGURES` line.
 */
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { pidsLimitProvider as provider, type PidsLimitInputs } from "../../infra/pidsLimit/provider";
import { checkContainerKernels, checkHostDrift } from "../../infra/host/verify";
import { verifyStack, type VerifyReport } from "../../infra/verify";
import { wantedContainers, type WantedContainer } from "../../infra/verify/wanted";
import { declareHostSlices } from "../host/declare";
import { containerCgroup, kernelOomKills, readCpu, readMemory, readPids } from "../load/support/cgroup";
import { FIRST_PROCESS_PIDS_MAX } from "../load/support/programs";
import { docker, type DockerCliError, removeTestContainers } from "../support/docker";
import { engineHost } from "../support/engineHost";
import { busyboxImage } from "../support/images";
import { REPO_ROOT } from "../support/stackFiles";
import { waitUntil } from "../support/wait";
import { deployContainer, describeWithV2Host, reportV2Figures, runHog, vm, watchedHog, writeV2Stack, type V2Stack } from "./support";

const MIB = 1024 * 1024;
/** A hog's size: past the stack's memory cap by far more than any rounding; killed without swap, swapped with it. */
const hogMiB = (wanted: WantedContainer): number => wanted.memory / MIB + 128;

describeWithV2Host("limits on a cgroup v2 host (the VM)", () => {
  const host = engineHost();
  let image: string;
  let plain: V2Stack;
  let sliced: V2Stack;
  let privateKey: string;
  const app = (stack: V2Stack): WantedContainer => wantedContainers(stack.config).find((c) => c.role === "app")!;
  const inputs = (wanted: WantedContainer, id: string, limit = wanted.pidsLimit): PidsLimitInputs => ({
    dockerHost: vm().dockerHost,
    containerId: id,
    limit,
    memory: wanted.memory,
    memorySwap: wanted.memorySwap,
    running: true,
  });
  const sleeper = ["sh", "-c", `${FIRST_PROCESS_PIDS_MAX}; exec sleep 3600`];
  const verify = (stack: V2Stack) => verifyStack({ stack: stack.name, projectDir: REPO_ROOT, configFile: stack.file });
  const row = (report: VerifyReport, setting: string) => report.rows.find((r) => r.setting === setting)!;
  const daemonReload = async () => expect((await host.sh("systemctl daemon-reload")).code).toBe(0);
  /** The slices of the sliced stack, as its HostSlices Commands carry them. */
  const sliceCommands = async () => (await declareHostSlices(sliced.config, privateKey)).commands;

  beforeAll(async () => {
    image = await busyboxImage();
    privateKey = readFileSync(vm().keyFile, "utf8");
    plain = writeV2Stack("plain", { slices: false });
    sliced = writeV2Stack("slices", { slices: true });
    for (const command of await sliceCommands()) {
      const applied = await host.sh(command.inputs.create);
      if (applied.code !== 0) throw new Error(`pushing ${command.name} to the VM failed: ${applied.stderr}`);
    }
  });

  // A test that fails leaves its containers; the next one must not trip over their names.
  afterEach(removeTestContainers);

  afterAll(async () => {
    try {
      await removeTestContainers();
      if (sliced) for (const command of [...(await sliceCommands())].reverse()) await host.sh(command.inputs.delete);
    } finally {
      plain?.dispose();
      sliced?.dispose();
    }
  });

  it("the VM is a cgroup v2 host with Docker's systemd driver, and it has swap", async () => {
    expect(await docker("info", "--format", "{{.CgroupVersion}} {{.CgroupDriver}}")).toBe("2 systemd");
    const swaps = (await host.sh("swapon --show=NAME,SIZE --noheadings")).stdout.trim();
    reportV2Figures("host", { docker: await docker("version", "--format", "{{.Server.Version}}"), swap: swaps });
    expect(swaps).not.toBe("");
  });

  it("the PID cap is in force before the first process runs, reads back, and a spawn past it fails", async () => {
    const wanted = app(plain);
    const { id, outs } = await deployContainer(wanted, image, sleeper);
    expect(outs).toEqual(inputs(wanted, id));
    await waitUntil(async () => (await docker("logs", id)).trim() !== "", 60_000, "the first process to print its pids.max");
    const seenByFirstProcess = (await docker("logs", id)).trim();
    const cgroup = await containerCgroup(id);
    const read = await provider.read!(id, outs);
    const forks = wanted.pidsLimit + 8;
    const spawn = await docker("exec", id, "sh", "-c", `i=0; while [ $i -lt ${forks} ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; echo spawned >&2`).then(
      () => `spawned all ${forks}`,
      (err: DockerCliError) => err.stderr.trim(),
    );
    const pids = await readPids(cgroup);
    // Capped before it started, the container's scope was made with the cap as a systemd property, so a
    // daemon-reload keeps it (a cap set only by a later update would be the same: runc passes TasksMax).
    const tasksMax = (await host.sh(`systemctl show -p TasksMax --value docker-${id}.scope`)).stdout.trim();
    await daemonReload();
    const afterReload = await readPids(cgroup);
    reportV2Figures("pid-cap", {
      cap: wanted.pidsLimit,
      seenByFirstProcess,
      readBack: read.props?.limit,
      kernelPidsMax: pids.max,
      spawnPastCap: spawn,
      peak: pids.peak,
      deniedForks: pids.denied,
      scopeTasksMax: tasksMax,
      pidsMaxAfterDaemonReload: afterReload.max,
    });
    expect(seenByFirstProcess).toBe(String(wanted.pidsLimit));
    expect(read.props?.limit).toBe(wanted.pidsLimit);
    expect(pids.max).toBe(wanted.pidsLimit);
    expect(spawn).toMatch(/can't fork/);
    expect(pids.peak).toBe(wanted.pidsLimit);
    expect(pids.denied).toBeGreaterThan(0);
    expect(tasksMax).toBe(String(wanted.pidsLimit));
    expect(afterReload.max).toBe(wanted.pidsLimit);
    await docker("rm", "-f", id);
  });

  it("no swap once the cap is applied, nor after an update of the cap: memory.swap.max stays 0, a hog is OOM-killed, no swap is used", async () => {
    const wanted = app(plain);
    const { id, outs } = await deployContainer(wanted, image, sleeper);
    const cgroup = await containerCgroup(id);
    const afterCreate = (await readMemory(cgroup)).swapLimit;
    // What the PID cap's update used to send, PidsLimit alone, turns swap on (moby/moby#51446's mechanism):
    await docker("update", "--pids-limit", String(wanted.pidsLimit - 1), id);
    const afterBareUpdate = (await readMemory(cgroup)).swapLimit;
    // What PidsLimit sends now: the cap with memory and memory+swap.
    const updated = await provider.update!(id, outs, inputs(wanted, id, 30));
    const afterPidsLimitUpdate = (await readMemory(cgroup)).swapLimit;
    const hog = await watchedHog(cgroup, hogMiB(wanted));
    reportV2Figures("swap-after-cap-update", {
      memoryCapMiB: wanted.memory / MIB,
      swapMaxAfterCreate: afterCreate,
      swapMaxAfterBarePidsUpdate: afterBareUpdate,
      swapMaxAfterPidsLimitUpdate: afterPidsLimitUpdate,
      hogMiB: hogMiB(wanted),
      hog,
    });
    expect(afterCreate).toBe(0);
    expect(afterBareUpdate).toBe(Infinity);
    expect(updated.outs).toEqual(inputs(wanted, id, 30));
    expect(afterPidsLimitUpdate).toBe(0);
    expect(hog).toMatchObject({ exitCode: 137, swapUsedMax: 0, oomKills: 1 });
    await docker("rm", "-f", id);
  });

  it("without a stack slice (dev on a local engine), a daemon-reload turns swap back on: verify says MISMATCH, a hog swaps; the next PidsLimit update turns it off again", async () => {
    const wanted = app(plain);
    const { id, outs } = await deployContainer(wanted, image, sleeper);
    const cgroup = await containerCgroup(id);
    expect((await verify(plain)).ok).toBe(true);
    await daemonReload();
    const swapLimit = (await readMemory(cgroup)).swapLimit;
    const report = await verify(plain);
    const hog = await watchedHog(cgroup, hogMiB(wanted));
    // Refresh shows nothing (Docker's record still says no swap); the next update the PidsLimit sends (a
    // cap change, or `pulumi up --replace` of it) carries memory and memory+swap, and swap is 0 again.
    await provider.update!(id, outs, inputs(wanted, id));
    const afterUpdate = (await readMemory(cgroup)).swapLimit;
    const verifiedAgain = await verify(plain);
    reportV2Figures("swap-after-daemon-reload-without-slice", {
      swapMaxAfterDaemonReload: swapLimit,
      verifyRow: row(report, "memory.swap.max (kernel)"),
      hog,
      swapMaxAfterPidsLimitUpdate: afterUpdate,
    });
    expect(swapLimit).toBe(Infinity);
    expect(report.ok).toBe(false);
    expect(row(report, "memory.swap.max (kernel)")).toMatchObject({ wanted: "none (0)", inForce: "unlimited (max)", status: "mismatch" });
    // The swap is real: the hog that is killed at the cap without it now finishes, having swapped.
    expect(hog.exitCode).toBe(0);
    expect(hog.swapUsedMax).toBeGreaterThan(0);
    expect(afterUpdate).toBe(0);
    expect(verifiedAgain.ok).toBe(true);
    await docker("rm", "-f", id);
  });

  it("in the stack's slices, swap stays off through a PID-cap update and a daemon-reload: the slice binds it, a hog is OOM-killed, no swap is used", async () => {
    const wanted = app(sliced);
    const { id, outs } = await deployContainer(wanted, image, sleeper);
    const cgroup = await containerCgroup(id);
    await provider.update!(id, outs, inputs(wanted, id));
    await daemonReload();
    const own = (await readMemory(cgroup)).swapLimit;
    const report = await verify(sliced);
    const hog = await watchedHog(cgroup, hogMiB(wanted));
    reportV2Figures("swap-after-daemon-reload-in-slice", {
      cgroup: cgroup.location.path,
      ownSwapMaxAfterDaemonReload: own,
      verifyRow: row(report, "memory.swap.max (kernel)"),
      hog,
    });
    expect(cgroup.location.path).toContain(`/${wanted.cgroupParent}/`);
    // The container's own file says max (systemd rewrote it), and yet:
    expect(own).toBe(Infinity);
    expect(row(report, "memory.swap.max (kernel)")).toMatchObject({ inForce: expect.stringMatching(/^none \(0\) \(bound by .*-app\.slice\)$/), status: "ok" });
    expect(report.rows.filter((r) => r.status !== "ok")).toEqual([]);
    expect(hog).toMatchObject({ exitCode: 137, swapUsedMax: 0, oomKills: 1 });
    await docker("rm", "-f", id);
  });

  it("a memory hog is OOM-killed alone: the container's main process and a sibling container carry on", async () => {
    const wanted = app(plain);
    const target = await deployContainer(wanted, image, sleeper);
    const sibling = await deployContainer({ ...wanted, name: `${wanted.name}-sibling` }, image, sleeper);
    const [targetCgroup, siblingCgroup] = [await containerCgroup(target.id), await containerCgroup(sibling.id)];
    const [targetBefore, siblingBefore] = [await readMemory(targetCgroup), await readMemory(siblingCgroup)];
    const hog = await runHog(target.id, hogMiB(wanted));
    const [targetAfter, siblingAfter] = [await readMemory(targetCgroup), await readMemory(siblingCgroup)];
    const kills = await kernelOomKills(target.id);
    const states = await docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", target.id, sibling.id);
    reportV2Figures("memory-hog-alone", {
      hogExitCode: hog.exitCode,
      oomKills: targetAfter.oomKills - targetBefore.oomKills,
      kernelOomKills: kills,
      siblingOomKills: siblingAfter.oomKills - siblingBefore.oomKills,
      peakMiB: targetAfter.peak === undefined ? undefined : Math.round(targetAfter.peak / MIB),
      states,
    });
    expect(hog.exitCode).toBe(137);
    expect(targetAfter.oomKills - targetBefore.oomKills).toBe(1);
    // The kernel's log names this container's cgroup and the hog (dd holds the memory) as the one victim.
    expect(kills).toEqual([{ task: "dd", pid: expect.any(Number) }]);
    expect(targetAfter.peak).toBeLessThanOrEqual(wanted.memory);
    expect(siblingAfter.oomKills).toBe(siblingBefore.oomKills);
    expect(states).toBe("true 0\ntrue 0");
    await docker("rm", "-f", target.id, sibling.id);
  });

  it("the CPU cap throttles: busy loops on every vCPU use no more than the declared CPUs", async () => {
    const wanted = app(plain);
    const cap = wanted.nanoCpus / 1e9;
    const { id } = await deployContainer(wanted, image, sleeper);
    const cgroup = await containerCgroup(id);
    const vcpus = Number((await host.sh("nproc")).stdout.trim());
    expect(vcpus, `the cap of ${cap} CPUs must be below the VM's ${vcpus} vCPUs`).toBeGreaterThan(cap);
    for (let i = 0; i < vcpus; i++) await docker("exec", "-d", id, "timeout", "60", "sh", "-c", "while :; do :; done");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const before = await readCpu(cgroup);
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = await readCpu(cgroup);
    const t1 = process.hrtime.bigint();
    const cpusUsed = (after.usageNs - before.usageNs) / Number(t1 - t0);
    reportV2Figures("cpu-throttling", {
      cap,
      quotaCpus: after.quotaCpus,
      vcpus,
      cpusUsed: Math.round(cpusUsed * 1000) / 1000,
      throttledPeriods: after.throttledPeriods - before.throttledPeriods,
      periods: after.periods - before.periods,
    });
    expect(after.quotaCpus).toBe(cap);
    // Within the cap (5 % for accounting granularity), and the cap is what held them: throttled periods.
    expect(cpusUsed).toBeLessThanOrEqual(cap * 1.05);
    expect(after.throttledPeriods - before.throttledPeriods).toBeGreaterThan(0);
    await docker("rm", "-f", id);
  });

  it("the stack's slices are in force: systemd and the kernel hold the planned limits, and verify-host says so", async () => {
    const report = await checkHostDrift(sliced.config, privateKey);
    reportV2Figures("slices", { cgroupVersion: report.cgroupVersion, drifts: report.drifts, notes: report.notes });
    expect(report.cgroupVersion).toBe(2);
    expect(report.drifts).toEqual([]);
  });

  it("verify over ssh:// catches a PID cap lifted by hand, in Docker's record and in the kernel, and the swap that update turned on", async () => {
    const wanted = app(plain);
    const { id } = await deployContainer(wanted, image, sleeper);
    await docker("update", "--pids-limit", "-1", id);
    const report = await verify(plain);
    const lifted = report.rows.filter((r) => r.status !== "ok").map((r) => [r.setting, r.inForce]);
    reportV2Figures("verify-lifted-cap", { dockerHost: report.dockerHost, kernelReadable: report.kernelReadable, rows: lifted });
    expect(report.dockerHost).toBe(vm().sshDockerHost);
    expect(report.kernelReadable).toBe(true);
    // A bare `docker update --pids-limit` is the very update that resets memory.swap.max on this host.
    expect(lifted).toEqual([
      ["PidsLimit", "unlimited"],
      ["memory.swap.max (kernel)", "unlimited (max)"],
      ["pids.max (kernel)", "unlimited"],
    ]);
    await docker("rm", "-f", id);
  });

  it("verify-host catches a slice's lifted cap and turned-on swap, and the container's swap they let loose", async () => {
    const wanted = app(sliced);
    const { id } = await deployContainer(wanted, image, sleeper);
    await daemonReload();
    expect(await checkContainerKernels(sliced.config, privateKey)).toEqual({ drifts: [], notes: [] });
    // Both slices hold MemorySwapMax=0: lift the child's cap and swap, and the parent's swap.
    const parent = sliced.config.host.slices.parent;
    const edit = [
      `sed -i -e 's/^TasksMax=.*/TasksMax=infinity/' -e 's/^MemorySwapMax=.*/MemorySwapMax=infinity/' /etc/systemd/system/${wanted.cgroupParent}`,
      `sed -i -e 's/^MemorySwapMax=.*/MemorySwapMax=infinity/' /etc/systemd/system/${parent}`,
      "systemctl daemon-reload",
    ].join(" && ");
    expect((await host.sh(edit)).code).toBe(0);
    const slices = await checkHostDrift(sliced.config, privateKey);
    const containers = await checkContainerKernels(sliced.config, privateKey);
    reportV2Figures("verify-host", { sliceDrifts: slices.drifts, containerDrifts: containers.drifts });
    expect(slices.drifts.map((d) => `${d.unit} ${d.property} ${d.found}`)).toEqual([
      `${parent} MemorySwapMax infinity`,
      `${parent} kernel swap max`,
      `${wanted.cgroupParent} MemorySwapMax infinity`,
      `${wanted.cgroupParent} TasksMax infinity`,
      `${wanted.cgroupParent} kernel swap max`,
      `${wanted.cgroupParent} kernel pids max`,
    ]);
    expect(containers.drifts).toEqual([
      { unit: wanted.name, property: "memory.swap.max (kernel)", wanted: "none (0)", found: "unlimited (max)" },
    ]);
    // Re-applying the slice (what `pulumi up --replace` of its Command runs) binds swap again.
    for (const command of await sliceCommands()) expect((await host.sh(command.inputs.create)).code).toBe(0);
    expect((await checkHostDrift(sliced.config, privateKey)).drifts).toEqual([]);
    expect((await checkContainerKernels(sliced.config, privateKey)).drifts).toEqual([]);
    await docker("rm", "-f", id);
  });
});
