/**
 * Finding a container's cgroup from /proc/<pid>/cgroup and reading its limits (memory, swap where it binds,
 * PIDs, CPUs), on cgroup v1 (this machine), v2 (systemd and cgroupfs drivers) and hybrid hosts, locally and
 * through a shell as over SSH, and saying why a value cannot be read instead of failing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCommand } from "../../infra/exec";
import { UNLIMITED } from "../../infra/pidsLimit/dockerApi";
import { filesOverShell, localFiles, type FileRead } from "../../infra/verify/hostFiles";
import type { ContainerInspect } from "../../infra/verify/inspect";
import {
  cgroupLocation,
  limitFiles,
  parseCpuMax,
  parseKernelLimits,
  parseLimit,
  parsePidsMax,
  readContainerKernel,
  type CgroupLocation,
} from "../../infra/verify/kernel";

const ID = "0c5b59e309cd81532c7b5be09de22fa92616be2c83849973df4560bed21e6b08";
const MIB = 1024 * 1024;
const V1_NO_LIMIT = "9223372036854771712";

/** As read on this machine (Docker 20.10, cgroupfs driver, hybrid v1). */
const V1_HYBRID = [
  "16:hugetlb:/",
  "9:name=systemd:/docker/" + ID,
  "8:pids:/docker/" + ID,
  "4:memory:/docker/" + ID,
  "3:cpu,cpuacct:/docker/" + ID,
  "0::/docker/" + ID,
].join("\n");
const V2_SYSTEMD = `0::/system.slice/docker-${ID}.scope\n`;
const V2_IN_SLICE = `0::/metamcp.slice/metamcp-app.slice/docker-${ID}.scope\n`;

describe("cgroupLocation / limitFiles", () => {
  it("cgroup v1: each controller's folder, named as the hierarchy lists its controllers", () => {
    const location = cgroupLocation(V1_HYBRID)!;
    expect(location).toEqual({
      version: 1,
      path: `/docker/${ID}`,
      memory: `/sys/fs/cgroup/memory/docker/${ID}`,
      pids: `/sys/fs/cgroup/pids/docker/${ID}`,
      cpu: `/sys/fs/cgroup/cpu,cpuacct/docker/${ID}`,
      cpuacct: `/sys/fs/cgroup/cpu,cpuacct/docker/${ID}`,
    });
    expect(limitFiles(location)).toEqual([
      `/sys/fs/cgroup/memory/docker/${ID}/memory.limit_in_bytes`,
      `/sys/fs/cgroup/memory/docker/${ID}/memory.memsw.limit_in_bytes`,
      `/sys/fs/cgroup/pids/docker/${ID}/pids.max`,
      `/sys/fs/cgroup/cpu,cpuacct/docker/${ID}/cpu.cfs_quota_us`,
      `/sys/fs/cgroup/cpu,cpuacct/docker/${ID}/cpu.cfs_period_us`,
    ]);
  });

  it("cgroup v2 with the systemd driver: the unified line, and the slice above it for swap", () => {
    const location = cgroupLocation(V2_SYSTEMD, "/mnt/cg")!;
    expect(location).toEqual({
      version: 2,
      path: `/system.slice/docker-${ID}.scope`,
      dir: `/mnt/cg/system.slice/docker-${ID}.scope`,
      ancestors: ["/mnt/cg/system.slice"],
    });
    expect(limitFiles(location)).toEqual([
      ...["memory.max", "memory.swap.max", "pids.max", "cpu.max"].map((f) => `/mnt/cg/system.slice/docker-${ID}.scope/${f}`),
      "/mnt/cg/system.slice/memory.swap.max",
    ]);
  });

  it("cgroup v2 in the stack's slices: every slice up to the root, nearest first", () => {
    expect(cgroupLocation(V2_IN_SLICE)).toMatchObject({
      ancestors: ["/sys/fs/cgroup/metamcp.slice/metamcp-app.slice", "/sys/fs/cgroup/metamcp.slice"],
    });
  });

  it("cgroup v2 with the cgroupfs driver: /docker/<id>", () => {
    expect(cgroupLocation(`0::/docker/${ID}\n`)).toMatchObject({ dir: `/sys/fs/cgroup/docker/${ID}`, ancestors: ["/sys/fs/cgroup/docker"] });
  });

  it("nothing usable: undefined", () => {
    expect(cgroupLocation("garbage\n")).toBeUndefined();
  });
});

describe("parsing limit files", () => {
  it.each([
    ["64\n", 64],
    ["max\n", Infinity],
    [V1_NO_LIMIT, Infinity],
    ["-1", Infinity], // cpu.cfs_quota_us without a quota
    ["sixty", undefined],
  ])("parseLimit(%j) is %s", (text, value) => {
    expect(parseLimit(text)).toBe(value);
  });

  it("parsePidsMax says max as Docker's UNLIMITED", () => {
    expect([parsePidsMax("64"), parsePidsMax("max"), parsePidsMax("x")]).toEqual([64, UNLIMITED, undefined]);
  });

  it.each([
    ["150000 100000", 1.5],
    ["max 100000", Infinity],
    ["25000 100000\n", 0.25],
    ["1000", undefined],
  ])("parseCpuMax(%j) is %s", (text, value) => {
    expect(parseCpuMax(text)).toBe(value);
  });
});

describe("parseKernelLimits", () => {
  const ok = (text: string): FileRead => ({ ok: true, text });
  const v2 = cgroupLocation(V2_IN_SLICE)! as Extract<CgroupLocation, { version: 2 }>;
  const v2Files = (swap: string, appSlice: string, parent: string) =>
    new Map<string, FileRead>([
      [`${v2.dir}/memory.max`, ok(String(64 * MIB))],
      [`${v2.dir}/memory.swap.max`, ok(swap)],
      [`${v2.dir}/pids.max`, ok("40")],
      [`${v2.dir}/cpu.max`, ok("50000 100000")],
      [`${v2.ancestors[0]}/memory.swap.max`, ok(appSlice)],
      [`${v2.ancestors[1]}/memory.swap.max`, ok(parent)],
    ]);

  it("v2: the container's own values; swap 0 of its own", () => {
    expect(parseKernelLimits(v2, v2Files("0", "0", "0"))).toEqual({
      version: 2,
      memory: { value: 64 * MIB },
      swap: { value: { bytes: 0 } },
      pids: { value: 40 },
      cpus: { value: 0.5 },
    });
  });

  it("v2: swap max on the container (after a daemon-reload) but 0 on its slice: bound by the slice", () => {
    expect(parseKernelLimits(v2, v2Files("max", "0", "0")).swap).toEqual({ value: { bytes: 0, boundBy: v2.ancestors[0] } });
  });

  it("v2: swap max all the way up: unlimited", () => {
    expect(parseKernelLimits(v2, v2Files("max", "max", "max")).swap).toEqual({ value: { bytes: Infinity } });
  });

  it("v2: an unreadable file makes that value unreadable, naming the file", () => {
    const files = v2Files("0", "0", "0");
    files.set(`${v2.dir}/pids.max`, { ok: false, error: "EACCES" });
    expect(parseKernelLimits(v2, files).pids).toEqual({ unreadable: `not readable: ${v2.dir}/pids.max: EACCES` });
  });

  it("v1: swap is memory+swap minus memory; no quota is unlimited CPUs", () => {
    const v1 = cgroupLocation(V1_HYBRID)! as Extract<CgroupLocation, { version: 1 }>;
    const files = new Map<string, FileRead>([
      [`${v1.memory}/memory.limit_in_bytes`, ok(String(64 * MIB))],
      [`${v1.memory}/memory.memsw.limit_in_bytes`, ok(String(96 * MIB))],
      [`${v1.pids}/pids.max`, ok("max")],
      [`${v1.cpu}/cpu.cfs_quota_us`, ok("-1")],
      [`${v1.cpu}/cpu.cfs_period_us`, ok("100000")],
    ]);
    expect(parseKernelLimits(v1, files)).toEqual({
      version: 1,
      memory: { value: 64 * MIB },
      swap: { value: { bytes: 32 * MIB } },
      pids: { value: UNLIMITED },
      cpus: { value: Infinity },
    });
    files.set(`${v1.memory}/memory.memsw.limit_in_bytes`, ok(V1_NO_LIMIT));
    expect(parseKernelLimits(v1, files).swap).toEqual({ value: { bytes: Infinity } });
    // Swap accounting off (swapaccount=0): the file is missing, and so is the value.
    files.delete(`${v1.memory}/memory.memsw.limit_in_bytes`);
    expect(parseKernelLimits(v1, files).swap).toMatchObject({ unreadable: expect.stringContaining("was not read") });
  });
});

describe("readContainerKernel against a fake /proc and /sys/fs/cgroup", () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** A fake host with the container's process at 4242 in a v2 systemd scope under a slice. */
  function fakeHost(procCgroup: string, files: Record<string, string>) {
    root = mkdtempSync(join(tmpdir(), "verify-kernel-"));
    const procRoot = join(root, "proc");
    const cgroupRoot = join(root, "cgroup");
    mkdirSync(join(procRoot, "4242"), { recursive: true });
    writeFileSync(join(procRoot, "4242", "cgroup"), procCgroup);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(cgroupRoot, path)), { recursive: true });
      writeFileSync(join(cgroupRoot, path), text);
    }
    return { procRoot, cgroupRoot };
  }

  const scope = `/metamcp.slice/metamcp-app.slice/docker-${ID}.scope`;
  const V2_FILES = {
    [`${scope}/memory.max`]: `${64 * MIB}\n`,
    [`${scope}/memory.swap.max`]: "max\n",
    [`${scope}/pids.max`]: "40\n",
    [`${scope}/cpu.max`]: "100000 100000\n",
    "/metamcp.slice/metamcp-app.slice/memory.swap.max": "0\n",
    "/metamcp.slice/memory.swap.max": "0\n",
  };
  const running: ContainerInspect = { Id: ID, State: { Running: true, Pid: 4242, Status: "running" } };
  const expected = {
    version: 2,
    memory: { value: 64 * MIB },
    swap: { value: { bytes: 0, boundBy: expect.stringMatching(/metamcp-app\.slice$/) } },
    pids: { value: 40 },
    cpus: { value: 1 },
  };

  it("reads the values in force from the files here", async () => {
    const options = fakeHost(V2_IN_SLICE, V2_FILES);
    expect(await readContainerKernel(running, localFiles(), options)).toMatchObject({ readable: true, limits: expected });
  });

  it("reads the same through a shell, as over SSH (one script for all files)", async () => {
    const options = fakeHost(V2_IN_SLICE, V2_FILES);
    const scripts: string[] = [];
    const shell = filesOverShell((script) => {
      scripts.push(script);
      return runCommand("sh", ["-c", script]);
    }, "a shell");
    expect(await readContainerKernel(running, shell, options)).toMatchObject({ readable: true, limits: expected });
    // /proc/<pid>/cgroup first, then every limit file at once.
    expect(scripts).toHaveLength(2);
  });

  it("a stopped container has no cgroup to read", async () => {
    expect(await readContainerKernel({ Id: ID, State: { Running: false, Pid: 0 } }, localFiles())).toEqual({
      readable: false,
      reason: "not readable: the container is not running",
    });
  });

  it("a PID that here is some other process (another PID namespace) is not trusted", async () => {
    const options = fakeHost("0::/user.slice\n", {});
    expect(await readContainerKernel(running, localFiles(), options)).toMatchObject({
      readable: false,
      reason: expect.stringMatching(/another PID namespace/),
    });
  });

  it("a missing cgroup file is reported in its value, not thrown", async () => {
    const { [`${scope}/pids.max`]: _gone, ...rest } = V2_FILES;
    const options = fakeHost(V2_IN_SLICE, rest);
    const reading = await readContainerKernel(running, localFiles(), options);
    expect(reading).toMatchObject({ readable: true, limits: { pids: { unreadable: expect.stringMatching(/pids\.max: ENOENT/) } } });
  });
});
