/**
 * The host slices on a real systemd host over real SSH. The scripts run here are the ones the
 * HostSlices Commands carry, read from the resources recorded under Pulumi mocks.
 *
 * The tests run in order against one host: create, enforcement, update in place, drift,
 * delete; then users, quoting and connection errors.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { SliceSettings } from "../../infra/host/plan";
import { planSlices, slicesOf, type SliceSpec } from "../../infra/host/plan";
import { applyScript, deleteScript } from "../../infra/host/scripts";
import { remoteCommand } from "../../infra/host/shell";
import { unitText } from "../../infra/host/unitFile";
import { checkHostDrift } from "../../infra/host/verify";
import { readStackConfig } from "../../infra/verify/stackFile";
import { busyboxImage } from "../support/images";
import { describeWithDocker, docker, removeTestContainers, testLabelArgs } from "../support/docker";
import { startSystemdHost, type SystemdHost } from "../support/systemdHost";
import { declareHostSlices, type RecordedCommand } from "./declare";
import { legacyDeleteScript, legacySliceHeader } from "./legacy";

const MIB = 1024 * 1024;

function settingsFor(
  host: SystemdHost,
  limits: { appPids: number; appMemoryMiB: number; appCpus: number },
  user = "root",
  owner: { stack: string; namePrefix: string } = { stack: "systemdtest", namePrefix: "mcg" },
): SliceSettings {
  return {
    ...owner,
    host: {
      slices: { enabled: true, parent: `${owner.namePrefix}.slice`, cgroupDriver: "systemd", headroomPercent: 10 },
      ssh: { host: "127.0.0.1", port: host.port, user, hostKey: host.hostKey },
      keeper: { enabled: false, interval: 10 },
    },
    app: { limits: { memory: limits.appMemoryMiB * MIB, memorySwap: limits.appMemoryMiB * MIB, cpus: limits.appCpus, pids: limits.appPids } },
    database: { mode: "internal", limits: { memory: 32 * MIB, memorySwap: 32 * MIB, cpus: 0.25, pids: 10 } },
    monitor: { enabled: false, limits: { memory: 16 * MIB, memorySwap: 16 * MIB, cpus: 0.1, pids: 8 } },
    guard: { enabled: false, limits: { memory: 16 * MIB, memorySwap: 16 * MIB, cpus: 0.1, pids: 8 } },
  };
}

const FIRST = { appPids: 8, appMemoryMiB: 64, appCpus: 0.5 }; // app slice: TasksMax 9, 71 MiB, 55%
const SECOND = { appPids: 20, appMemoryMiB: 96, appCpus: 1 }; // app slice: TasksMax 22, 106 MiB, 110%

/** The properties the scripts read back, as `systemctl show` prints them. */
async function shown(host: SystemdHost, unit: string): Promise<Record<string, string>> {
  const out = await host.ssh(`systemctl show -p MemoryMax,MemorySwapMax,TasksMax,CPUQuotaPerSecUSec,ActiveState,FragmentPath,ControlGroup ${unit}`);
  return Object.fromEntries(out.stdout.trim().split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

/** The limits in the kernel's own files for the unit's cgroup, on cgroup v1 or v2. */
async function kernelLimits(host: SystemdHost, unit: string): Promise<Record<string, string>> {
  const script = [
    `cg=$(systemctl show -p ControlGroup --value ${unit})`,
    'if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then',
    '  echo "pids=$(cat /sys/fs/cgroup$cg/pids.max)"; echo "memory=$(cat /sys/fs/cgroup$cg/memory.max)"',
    '  echo "cpu=$(cut -d" " -f1 /sys/fs/cgroup$cg/cpu.max)"; echo "swap=$(cat /sys/fs/cgroup$cg/memory.swap.max)"',
    "else",
    '  echo "pids=$(cat /sys/fs/cgroup/pids$cg/pids.max)"; echo "memory=$(cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes)"',
    '  echo "cpu=$(cat /sys/fs/cgroup/cpu$cg/cpu.cfs_quota_us)"; echo "swap=$(cat /sys/fs/cgroup/memory$cg/memory.memsw.limit_in_bytes 2>/dev/null || echo none)"',
    "fi",
  ].join("\n");
  const out = await host.ssh(`sh -c '${script.replace(/'/g, `'\\''`)}'`);
  return Object.fromEntries(out.stdout.trim().split("\n").map((line) => line.split("=") as [string, string]));
}

function byUnit(commands: RecordedCommand[], unit: string): RecordedCommand {
  const found = commands.find((c) => c.name === `host-${unit}`);
  if (!found) throw new Error(`no Command for ${unit}: ${commands.map((c) => c.name).join(", ")}`);
  return found;
}

async function mustRun(host: SystemdHost, command: string, user: "root" | "deploy" = "root") {
  const result = await host.ssh(command, user);
  if (result.code !== 0) throw new Error(`exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

describeWithDocker("host slices on a real systemd host over SSH", () => {
  let host: SystemdHost;
  let first: RecordedCommand[];
  let cgroupVersion: 1 | 2;
  const UNITS = ["mcg.slice", "mcg-app.slice", "mcg-db.slice"];

  beforeAll(async () => {
    const started = Date.now();
    host = await startSystemdHost();
    console.log(`systemd host up in ${Date.now() - started} ms (port ${host.port})`);
    first = (await declareHostSlices(settingsFor(host, FIRST), host.privateKey)).commands;
    cgroupVersion = (await host.ssh("stat -fc %T /sys/fs/cgroup")).stdout.trim() === "cgroup2fs" ? 2 : 1;
  }, 600_000);

  afterAll(async () => {
    await host?.remove();
    await removeTestContainers();
  });

  it("create writes each unit, and the values in force are the planned ones", async () => {
    expect(first.map((c) => c.name)).toEqual(UNITS.map((u) => `host-${u}`));
    for (const cmd of first) {
      const result = await mustRun(host, cmd.inputs.create);
      expect(result.stdout).toMatch(/in force: MemoryMax=\d+ MemorySwapMax=0 TasksMax=\d+ CPUQuotaPerSecUSec=/);
    }
    const plan = planSlices(settingsFor(host, FIRST));
    expect(await shown(host, "mcg-app.slice")).toMatchObject({
      MemoryMax: String(71 * MIB),
      MemorySwapMax: "0",
      TasksMax: "9",
      CPUQuotaPerSecUSec: "550ms",
      ActiveState: "active",
      FragmentPath: "/etc/systemd/system/mcg-app.slice",
    });
    expect(await shown(host, "mcg.slice")).toMatchObject({ TasksMax: String(plan.parent.tasksMax), MemoryMax: String(plan.parent.memoryMax) });
    // The file on disk is exactly the unit text, and no temp file was left behind.
    expect((await host.exec("cat", "/etc/systemd/system/mcg-app.slice")) + "\n").toBe(unitText(plan.children.app!, "systemdtest"));
    expect(await host.exec("sh", "-c", "ls -a /etc/systemd/system | grep metamcp-guard || true")).toBe("");
    // Children nest in the parent by name.
    expect((await shown(host, "mcg-app.slice")).ControlGroup).toMatch(/\/mcg\.slice\/mcg-app\.slice$/);
  });

  it("create fails, saying which value, when a drop-in or the kernel holds other limits", async () => {
    const app = byUnit(first, "mcg-app.slice");
    await mustRun(host, "mkdir -p /etc/systemd/system/mcg-app.slice.d && printf '[Slice]\\nTasksMax=77\\n' > /etc/systemd/system/mcg-app.slice.d/override.conf");
    const overridden = await host.ssh(app.inputs.create);
    await mustRun(host, "rm -r /etc/systemd/system/mcg-app.slice.d && systemctl daemon-reload");
    expect(overridden.code).toBe(1);
    expect(overridden.stderr).toMatch(/mcg-app.slice: TasksMax in force is '77', wanted '9'/);
    expect(overridden.stderr).toMatch(/limits are not in force .* systemctl cat mcg-app.slice/);

    // A limit changed behind systemd's back, in the kernel file (as `docker update` does to a
    // container): re-applying puts it back, because daemon-reload re-applies every unit's cgroup
    // settings (the mechanism behind moby/moby#41233, here working for us).
    await mustRun(host, app.inputs.create);
    const pidsFile = cgroupVersion === 2 ? "/sys/fs/cgroup$cg/pids.max" : "/sys/fs/cgroup/pids$cg/pids.max";
    await mustRun(host, `cg=$(systemctl show -p ControlGroup --value mcg-app.slice); echo 500 > ${pidsFile}`);
    expect((await kernelLimits(host, "mcg-app.slice")).pids).toBe("500");
    await mustRun(host, app.inputs.create);
    expect((await kernelLimits(host, "mcg-app.slice")).pids).toBe("9");
    await mustRun(host, "systemctl daemon-reload");
  });

  it("the kernel holds the limits (cgroup v1 too, except swap)", async () => {
    const kernel = await kernelLimits(host, "mcg-app.slice");
    expect(kernel.pids).toBe("9");
    expect(kernel.memory).toBe(String(71 * MIB));
    expect(kernel.cpu).toBe("55000"); // µs per 100 ms period
    if (cgroupVersion === 2) expect(kernel.swap).toBe("0");
    // On v1 systemd has no knob for memory.memsw: it stays unlimited (the container's own memorySwap caps swap).
    else expect(kernel.swap).not.toBe("0");
    console.log(`cgroup v${cgroupVersion}; kernel values for mcg-app.slice: ${JSON.stringify(kernel)}`);
  });

  it("a process placed in the slice cannot exceed TasksMax", async () => {
    const spawn = await host.ssh(
      "systemd-run --quiet --slice=mcg-app.slice --unit=forker --scope sh -c 'i=0; while [ $i -lt 30 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); echo started $i; done'",
    );
    const started = Math.max(0, ...[...spawn.stdout.matchAll(/started (\d+)/g)].map((m) => Number(m[1])));
    await mustRun(host, "systemctl stop forker.scope || true");
    expect(spawn.stderr).toMatch(/fork/i);
    // TasksMax=9 counts the shell itself: at most 8 sleeps can start, never the 30 asked for.
    expect(started).toBeLessThan(9);
    expect(started).toBeGreaterThan(0);
  });

  it("a process placed in the slice is killed at MemoryMax", async () => {
    // `tail` keeps a line in memory until it ends; 200 MiB of zeros has no newline.
    const hog = await host.ssh("systemd-run --quiet --slice=mcg-app.slice --unit=hog --scope sh -c 'head -c 200M /dev/zero | tail > /dev/null; echo tail-exit=$?'");
    await host.ssh("systemctl stop hog.scope 2>/dev/null || true");
    expect(hog.stdout).toMatch(/tail-exit=137/);
  });

  it("update changes the limits in place, and what runs in the slice keeps running", async () => {
    await mustRun(host, "systemd-run --quiet --slice=mcg-app.slice --unit=holder sleep 1000");
    const pidBefore = (await host.ssh("systemctl show -p MainPID --value holder.service")).stdout.trim();
    expect(Number(pidBefore)).toBeGreaterThan(0);

    const second = (await declareHostSlices(settingsFor(host, SECOND), host.privateKey)).commands;
    // Same resources (same names): the engine runs `update`, not a replacement.
    expect(second.map((c) => c.name)).toEqual(first.map((c) => c.name));
    for (const cmd of second) await mustRun(host, cmd.inputs.update);

    expect(await shown(host, "mcg-app.slice")).toMatchObject({ TasksMax: "22", MemoryMax: String(106 * MIB), CPUQuotaPerSecUSec: "1.100000s" });
    expect((await kernelLimits(host, "mcg-app.slice")).pids).toBe("22");
    expect((await host.ssh("systemctl show -p MainPID --value holder.service")).stdout.trim()).toBe(pidBefore);
    expect((await host.ssh("systemctl is-active holder.service")).stdout.trim()).toBe("active");
  });

  it("the drift check finds a unit edited by hand, and an edit not yet reloaded", async () => {
    const settings = settingsFor(host, SECOND);
    expect((await checkHostDrift(settings, host.privateKey)).drifts).toEqual([]);

    await mustRun(host, "sed -i 's/^TasksMax=.*/TasksMax=5000/' /etc/systemd/system/mcg-app.slice && systemctl daemon-reload");
    const edited = await checkHostDrift(settings, host.privateKey);
    expect(edited.drifts).toEqual([
      { unit: "mcg-app.slice", property: "TasksMax", wanted: "22", found: "5000" },
      { unit: "mcg-app.slice", property: "kernel pids", wanted: "22", found: "5000" },
    ]);
    expect(edited.cgroupVersion).toBe(cgroupVersion);

    await mustRun(host, "sed -i 's/^MemoryMax=.*/MemoryMax=infinity/' /etc/systemd/system/mcg-db.slice");
    const pending = await checkHostDrift(settings, host.privateKey);
    expect(pending.drifts.map((d) => `${d.unit} ${d.property}`)).toEqual([
      "mcg-app.slice TasksMax",
      "mcg-app.slice kernel pids",
      "mcg-db.slice NeedDaemonReload",
    ]);

    // A kernel value changed behind systemd's back is drift too.
    await mustRun(host, `cg=$(systemctl show -p ControlGroup --value mcg-db.slice); echo 77 > ${cgroupVersion === 2 ? "/sys/fs/cgroup$cg/pids.max" : "/sys/fs/cgroup/pids$cg/pids.max"}`);
    const kernel = await checkHostDrift(settings, host.privateKey);
    expect(kernel.drifts).toContainEqual({ unit: "mcg-db.slice", property: "kernel pids", wanted: "11", found: "77" });

    // Re-applying (what `pulumi up --replace` runs) puts the stack's values back.
    const again = (await declareHostSlices(settings, host.privateKey)).commands;
    for (const cmd of again) await mustRun(host, cmd.inputs.create);
    expect((await checkHostDrift(settings, host.privateKey)).drifts).toEqual([]);
  });

  it("verify-host (the CLI) exits 0 on a matching host and 1 on drift", async () => {
    const dir = mkdtempSync(join(tmpdir(), "verify-host-"));
    try {
      const stackFile = join(dir, "Pulumi.systemdtest.yaml");
      // A stack file the program accepts (limits that hold MetaMCP's planned load, slices named by its
      // prefix), and the slices its plan makes written first: what `pulumi up` would have left.
      writeFileSync(
        stackFile,
        [
          "config:",
          "  metamcp-guard:namePrefix: mcg",
          "  metamcp-guard:app:",
          "    limits: { memory: 2g, memorySwap: 2g, cpus: 1 }",
          "  metamcp-guard:database:",
          "    limits: { memory: 32m, memorySwap: 32m, cpus: 0.25, pids: 10 }",
          "  metamcp-guard:monitor:",
          "    enabled: false",
          "  metamcp-guard:guard:",
          "    enabled: false",
          "  metamcp-guard:host:",
          "    slices: { enabled: true, headroomPercent: 10 }",
          `    ssh: { host: 127.0.0.1, port: ${host.port}, user: root, hostKey: "${host.hostKey}" }`,
          "",
        ].join("\n"),
      );
      const fromFile = readStackConfig("systemdtest", { projectDir: dir, configFile: stackFile });
      expect(slicesOf(planSlices(fromFile)).map((s) => s.unit)).toEqual(UNITS);
      for (const cmd of (await declareHostSlices(fromFile, host.privateKey)).commands) await mustRun(host, cmd.inputs.create);
      const cli = (args: string[]) =>
        new Promise<{ code: number; out: string }>((resolve) => {
          execFile("node_modules/.bin/ts-node", ["--transpile-only", "scripts/verify-host.ts", ...args], (err, stdout, stderr) => {
            resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: `${stdout}${stderr}` });
          });
        });
      const args = ["systemdtest", "--stack-file", stackFile, "--identity", host.keyFile];
      const clean = await cli(args);
      expect(clean.out).toMatch(/host slices match the stack/);
      expect(clean.code).toBe(0);
      await mustRun(host, "sed -i 's/^CPUQuota=.*/CPUQuota=400%/' /etc/systemd/system/mcg-app.slice && systemctl daemon-reload");
      const drifted = await cli(args);
      expect(drifted.out).toMatch(/mcg-app.slice CPUQuotaPerSecUSec: wanted 1.100000s, found 4s/);
      // Back to the limits the later tests expect in force.
      for (const cmd of (await declareHostSlices(settingsFor(host, SECOND), host.privateKey)).commands) await mustRun(host, cmd.inputs.update);
      expect(drifted.code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("delete leaves a slice that still holds a process, and removes it once empty", async () => {
    const app = byUnit(first, "mcg-app.slice");
    const kept = await mustRun(host, app.inputs.delete);
    expect(kept.stderr).toMatch(/mcg-app.slice still holds \d+ tasks; left in place/);
    expect((await host.ssh("systemctl is-active holder.service")).stdout.trim()).toBe("active");
    expect((await shown(host, "mcg-app.slice")).FragmentPath).toBe("/etc/systemd/system/mcg-app.slice");

    await mustRun(host, "systemctl stop holder.service");
    // Children first, then the parent: the order the engine deletes them in (children depend on it).
    for (const cmd of [...first].reverse()) {
      expect((await mustRun(host, cmd.inputs.delete)).stdout).toMatch(/stopped and removed/);
    }
    for (const unit of UNITS) {
      expect(await shown(host, unit)).toMatchObject({ FragmentPath: "", ActiveState: "inactive", TasksMax: "infinity" });
    }
    expect((await host.ssh("ls /etc/systemd/system | grep mcg || true")).stdout.trim()).toBe("");
    // Deleting again (a unit already gone by hand) succeeds.
    await mustRun(host, byUnit(first, "mcg-db.slice").inputs.delete);
  });

  it("runs under sudo for a user that is not root, and says so when sudo needs a password", async () => {
    const asDeploy = (await declareHostSlices(settingsFor(host, FIRST, "deploy"), host.privateKey)).commands;
    expect(asDeploy[0].inputs.create).toContain("sudo -n sh -c");
    for (const cmd of asDeploy) await mustRun(host, cmd.inputs.create, "deploy");
    expect((await shown(host, "mcg-app.slice")).TasksMax).toBe("9");
    for (const cmd of [...asDeploy].reverse()) await mustRun(host, cmd.inputs.delete, "deploy");

    const refused = await host.ssh(asDeploy[0].inputs.create, "nosudo");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/user nosudo on .* cannot run sudo without a password/);
  });

  it("keeps quoted values literal on the host", async () => {
    const plan = planSlices(settingsFor(host, FIRST));
    const nasty = `it's "q" $(touch /tmp/pwned) \`touch /tmp/pwned2\` 100% done; rm -rf /tmp/x`;
    const spec = { ...plan.children.app!, unit: "mcg-quote.slice", description: nasty };
    await mustRun(host, remoteCommand(applyScript(spec, "systemdtest"), "root"));
    expect((await host.ssh("systemctl show -p Description --value mcg-quote.slice")).stdout.trim()).toBe(nasty);
    expect((await host.ssh("ls /tmp/pwned /tmp/pwned2 2>&1 || true")).stdout).toMatch(/No such file[\s\S]*No such file/);
    await mustRun(host, remoteCommand(deleteScript("mcg-quote.slice", "systemdtest"), "root"));
  });

  it("a wrong key, a wrong host key or an unreachable host gives a clear error", async () => {
    const settings = settingsFor(host, FIRST);
    const dir = mkdtempSync(join(tmpdir(), "wrong-key-"));
    try {
      await new Promise<void>((resolve, reject) =>
        execFile("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "k")], (err) => (err ? reject(err) : resolve())),
      );
      const wrongKey = await new Promise<string>((resolve) => execFile("cat", [join(dir, "k")], (_e, out) => resolve(String(out))));
      await expect(checkHostDrift(settings, wrongKey)).rejects.toThrow(
        `cannot log in as root@127.0.0.1:${host.port}: the server refused the sshPrivateKey`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const otherHostKey = { ...settings, host: { ...settings.host, ssh: { ...settings.host.ssh!, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" } } };
    await expect(checkHostDrift(otherHostKey, host.privateKey)).rejects.toThrow(/host key of 127.0.0.1:\d+ does not match host.ssh.hostKey/);
    const closed = { ...settings, host: { ...settings.host, ssh: { ...settings.host.ssh!, port: 1 } } };
    await expect(checkHostDrift(closed, host.privateKey)).rejects.toThrow("cannot reach 127.0.0.1:1: connection refused");
  });

  it("binds a Docker container placed in the slice by cgroupParent (cgroupfs driver, path form)", async () => {
    // This engine uses the cgroupfs driver, so the container gets the slice's cgroup path. On a
    // real host that is sliceCgroupPath() (/mcg.slice/mcg-app.slice); here systemd's root is the
    // test container's own cgroup, so the path carries that prefix.
    await mustRun(host, remoteCommand(applyScript(planSlices(settingsFor(host, FIRST)).parent, "systemdtest"), "root"));
    await mustRun(host, remoteCommand(applyScript(planSlices(settingsFor(host, FIRST)).children.app!, "systemdtest"), "root"));
    const cgroup = (await shown(host, "mcg-app.slice")).ControlGroup;
    expect(cgroup).toMatch(/\/mcg\.slice\/mcg-app\.slice$/);
    const image = await busyboxImage();
    // No --pids-limit: only the slice's TasksMax=9 can stop this loop. Output is read from the
    // logs after the container ends (attaching to a container this short-lived can miss it).
    const spawnLoop = async (...cgroupArgs: string[]) => {
      const id = await docker(
        "run", "-d", ...testLabelArgs(), "--network", "none", ...cgroupArgs, image,
        "sh", "-c", "exec 2>&1; i=0; while [ $i -lt 30 ]; do sleep 2 & i=$((i+1)); done; echo spawned $i",
      );
      const code = await docker("wait", id);
      const logs = await docker("logs", id);
      await docker("rm", "-f", id);
      return { code, logs };
    };
    const inSlice = await spawnLoop("--cgroup-parent", cgroup);
    expect(inSlice.logs).toMatch(/can't fork/);
    expect(inSlice.code).not.toBe("0");
    // The same container outside the slice spawns all 30: the slice is what stopped it.
    const outside = await spawnLoop();
    expect(outside).toEqual({ code: "0", logs: "spawned 30" });
    await host.ssh("true");
  }, 60_000);

  // Issue 12: the stack writes and removes only units it created, and never nests in another stack's.
  const UNIT_DIR = "/etc/systemd/system";
  const fileOf = async (unit: string) => (await host.ssh(`cat ${UNIT_DIR}/${unit} 2>/dev/null || echo '(none)'`)).stdout;
  const stackUnits = async (owner: { stack: string; namePrefix: string }) => {
    const plan = planSlices(settingsFor(host, FIRST, "root", owner));
    return { plan, specs: slicesOf(plan) };
  };
  const applyOf = (spec: SliceSpec, stack: string) => remoteCommand(applyScript(spec, stack), "root");
  const deleteOf = (unit: string, stack: string) => remoteCommand(deleteScript(unit, stack), "root");

  it("never writes over, nor removes, a unit file the stack did not create, and names it", async () => {
    // What the cgroupfs test left: this stack's own, so its delete removes them.
    for (const unit of ["mcg-app.slice", "mcg.slice"]) await mustRun(host, deleteOf(unit, "systemdtest"));
    const { plan } = await stackUnits({ stack: "systemdtest", namePrefix: "mcg" });
    const cases: Array<[string, string, RegExp]> = [
      ["a file of the user's own", "printf '[Slice]\\nTasksMax=5\\n' > /etc/systemd/system/mcg-app.slice", /mcg-app\.slice exists and was not written by metamcp-guard .*; it is left as it is/],
      ["another stack's file", "printf '# Written by metamcp-guard (Pulumi stack other); x\\n[Slice]\\nTasksMax=5\\n' > /etc/systemd/system/mcg-app.slice", /mcg-app\.slice belongs to Pulumi stack other, not to stack systemdtest/],
      ["a masked unit", "systemctl mask mcg-app.slice", /mcg-app\.slice is a symbolic link \(a masked or linked unit\)/],
      ["a unit systemd has from /usr/lib", "printf '[Slice]\\nTasksMax=5\\n' > /usr/lib/systemd/system/mcg-app.slice && systemctl daemon-reload", /systemd already has a unit mcg-app\.slice, from (\/usr)?\/lib\/systemd\/system\/mcg-app\.slice/],
    ];
    for (const [what, arrange, refusal] of cases) {
      try {
        await mustRun(host, arrange);
        const before = await fileOf("mcg-app.slice");
        const refused = await host.ssh(applyOf(plan.children.app!, "systemdtest"));
        expect({ what, code: refused.code, stderr: refused.stderr }).toEqual({ what, code: 1, stderr: expect.stringMatching(refusal) });
        // Deleting leaves it too (its unit is not stopped).
        const deleted = await host.ssh(deleteOf("mcg-app.slice", "systemdtest"));
        expect({ what, code: deleted.code, after: await fileOf("mcg-app.slice") }).toEqual({ what, code: 0, after: before });
      } finally {
        await mustRun(host, "systemctl unmask mcg-app.slice 2>/dev/null; rm -f /etc/systemd/system/mcg-app.slice /usr/lib/systemd/system/mcg-app.slice; systemctl daemon-reload");
      }
    }
    // With the way clear, the same script writes the stack's own unit.
    await mustRun(host, applyOf(plan.children.app!, "systemdtest"));
    expect((await fileOf("mcg-app.slice")).split("\n")[0]).toBe(legacySliceHeader("systemdtest"));
    await mustRun(host, deleteOf("mcg-app.slice", "systemdtest"));
  });

  it("a parent slice refuses to nest inside another stack's slice, or to hold one", async () => {
    const mine = await stackUnits({ stack: "systemdtest", namePrefix: "mcg" });
    const theirs = await stackUnits({ stack: "neighbour", namePrefix: "mcg-n" });
    await mustRun(host, applyOf(mine.plan.parent, "systemdtest"));
    // mcg-n.slice would sit inside this stack's mcg.slice (systemd's dash rule): refused, nothing written.
    const nested = await host.ssh(applyOf(theirs.plan.parent, "neighbour"));
    expect({ code: nested.code, stderr: nested.stderr, file: await fileOf("mcg-n.slice") }).toEqual({
      code: 1,
      stderr: expect.stringMatching(/mcg-n\.slice would nest inside mcg\.slice, written by Pulumi stack systemdtest, whose limits would bind stack neighbour too; nothing was changed/),
      file: "(none)\n",
    });
    // And the other way round: with the neighbour's slice there first, this stack's parent refuses to hold it.
    await mustRun(host, deleteOf("mcg.slice", "systemdtest"));
    await mustRun(host, applyOf(theirs.plan.parent, "neighbour"));
    const holding = await host.ssh(applyOf(mine.plan.parent, "systemdtest"));
    expect({ code: holding.code, stderr: holding.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/mcg-n\.slice, written by Pulumi stack neighbour, would nest inside mcg\.slice/) });
    await mustRun(host, deleteOf("mcg-n.slice", "neighbour"));
  });

  it("upgrading from the old shared parent: the new parent removes it, without stopping what runs below, and the old deletes finish the move", async () => {
    // Before: the layout an older version wrote for this stack (parent mcg.slice as metamcp.slice was),
    // with a container (a process) in the old app slice.
    const old = await stackUnits({ stack: "systemdtest", namePrefix: "mcg" });
    for (const spec of old.specs) await mustRun(host, applyOf(spec, "systemdtest"));
    expect((await fileOf("mcg.slice")).split("\n")[0]).toBe(legacySliceHeader("systemdtest"));
    await mustRun(host, "systemd-run --quiet --slice=mcg-app.slice --unit=oldapp sleep 1000");

    // pulumi up: the new parent first (new resource), which nests in the old one by name.
    const next = await stackUnits({ stack: "systemdtest", namePrefix: "mcg-up" });
    const created = await mustRun(host, applyOf(next.plan.parent, "systemdtest"));
    expect(created.stdout).toMatch(/removed \/etc\/systemd\/system\/mcg\.slice, an older slice of stack systemdtest that mcg-up\.slice nests in; .* it was not stopped/);
    // The old container kept running, still under its own slice's limits; the old parent's cap is gone.
    expect((await host.ssh("systemctl is-active oldapp.service")).stdout.trim()).toBe("active");
    expect((await shown(host, "mcg-app.slice")).TasksMax).toBe("9");
    expect(await shown(host, "mcg.slice")).toMatchObject({ FragmentPath: "", MemoryMax: "infinity", TasksMax: "infinity" });
    expect((await shown(host, "mcg-up.slice")).ControlGroup).toMatch(/\/mcg\.slice\/mcg-up\.slice$/);

    // Then the new children, the containers replaced into them, and the old Commands deleted (children
    // first), with the delete script their state recorded.
    for (const spec of next.specs.slice(1)) await mustRun(host, applyOf(spec, "systemdtest"));
    await mustRun(host, "systemd-run --quiet --slice=mcg-up-app.slice --unit=newapp sleep 1000 && systemctl stop oldapp.service");
    for (const spec of [...old.specs].reverse()) {
      const result = await mustRun(host, remoteCommand(legacyDeleteScript(spec.unit), "root"));
      if (spec.role === "parent") expect(result.stderr).toMatch(/mcg\.slice still holds \d+ tasks; left in place/);
      else expect(result.stdout).toMatch(/stopped and removed/);
    }
    // After: only the new slices, with their limits in force, the new container running, nothing of the old
    // layout binding it (mcg.slice is systemd's implicit parent now, without limits).
    expect((await host.ssh("systemctl is-active newapp.service")).stdout.trim()).toBe("active");
    expect((await host.ssh(`ls ${UNIT_DIR} | grep '^mcg' || true`)).stdout.trim().split("\n")).toEqual(next.specs.map((s) => s.unit).sort());
    expect(await kernelLimits(host, "mcg.slice")).toMatchObject({ pids: "max" });
    expect((await kernelLimits(host, "mcg-up-app.slice")).pids).toBe(String(next.plan.children.app!.tasksMax));
    expect((await checkHostDrift(settingsFor(host, FIRST, "root", { stack: "systemdtest", namePrefix: "mcg-up" }), host.privateKey)).drifts).toEqual([]);
    await mustRun(host, "systemctl stop newapp.service");
    for (const spec of [...next.specs].reverse()) await mustRun(host, deleteOf(spec.unit, "systemdtest"));
  });
});
