/**
 * Finding a container's pids.max from /proc/<pid>/cgroup, on cgroup v1 (this machine), v2 and
 * hybrid hosts, and saying why it cannot be read instead of failing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UNLIMITED } from "../../infra/pidsLimit/dockerApi";
import type { ContainerInspect } from "../../infra/verify/inspect";
import { parsePidsMax, pidsCgroupOf, pidsMaxFile, readKernelPidsMax } from "../../infra/verify/kernel";

const ID = "0c5b59e309cd81532c7b5be09de22fa92616be2c83849973df4560bed21e6b08";

/** As read on this machine (Docker 20.10, cgroupfs driver, hybrid v1). */
const V1_HYBRID = [
  "16:hugetlb:/",
  "9:name=systemd:/docker/" + ID,
  "8:pids:/docker/" + ID,
  "4:memory:/docker/" + ID,
  "1:cpu:/docker/" + ID,
  "0::/docker/" + ID,
].join("\n");
const V2_SYSTEMD = `0::/system.slice/docker-${ID}.scope\n`;

describe("pidsCgroupOf / pidsMaxFile", () => {
  it("cgroup v1: the pids controller's line, under the pids mount", () => {
    const cgroup = pidsCgroupOf(V1_HYBRID)!;
    expect(cgroup).toEqual({ version: 1, path: `/docker/${ID}` });
    expect(pidsMaxFile(cgroup)).toBe(`/sys/fs/cgroup/pids/docker/${ID}/pids.max`);
  });

  it("cgroup v1 with a cgroupParent: the parent's path comes first", () => {
    const cgroup = pidsCgroupOf(`5:pids,cpu:/metamcp.slice/metamcp-app.slice/${ID}`)!;
    expect(pidsMaxFile(cgroup)).toBe(`/sys/fs/cgroup/pids/metamcp.slice/metamcp-app.slice/${ID}/pids.max`);
  });

  it("cgroup v2: the unified line, straight under the mount", () => {
    const cgroup = pidsCgroupOf(V2_SYSTEMD)!;
    expect(cgroup).toEqual({ version: 2, path: `/system.slice/docker-${ID}.scope` });
    expect(pidsMaxFile(cgroup, "/mnt/cg")).toBe(`/mnt/cg/system.slice/docker-${ID}.scope/pids.max`);
  });

  it("nothing usable: undefined", () => {
    expect(pidsCgroupOf("garbage\n")).toBeUndefined();
  });
});

describe("parsePidsMax", () => {
  it("reads numbers and max", () => {
    expect(parsePidsMax("64\n")).toBe(64);
    expect(parsePidsMax("max\n")).toBe(UNLIMITED);
    expect(parsePidsMax("sixty")).toBeUndefined();
  });
});

describe("readKernelPidsMax against a fake /proc and /sys/fs/cgroup", () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function fakeHost(procCgroup: string, pidsMax?: string) {
    root = mkdtempSync(join(tmpdir(), "verify-kernel-"));
    const procRoot = join(root, "proc");
    const cgroupRoot = join(root, "cgroup");
    mkdirSync(join(procRoot, "4242"), { recursive: true });
    writeFileSync(join(procRoot, "4242", "cgroup"), procCgroup);
    if (pidsMax !== undefined) {
      mkdirSync(join(cgroupRoot, "pids", "docker", ID), { recursive: true });
      writeFileSync(join(cgroupRoot, "pids", "docker", ID, "pids.max"), pidsMax);
    }
    return { onDockerHost: true, procRoot, cgroupRoot };
  }

  const running: ContainerInspect = { Id: ID, State: { Running: true, Pid: 4242, Status: "running" } };

  it("reads the value in force", () => {
    const options = fakeHost(V1_HYBRID, "40\n");
    expect(readKernelPidsMax(running, options)).toEqual({
      readable: true,
      pidsMax: 40,
      file: join(options.cgroupRoot, "pids", "docker", ID, "pids.max"),
    });
  });

  it("away from the Docker host it does not try", () => {
    expect(readKernelPidsMax(running, { onDockerHost: false })).toEqual({
      readable: false,
      reason: "not readable: remote engine",
    });
  });

  it("a stopped container has no cgroup to read", () => {
    expect(readKernelPidsMax({ Id: ID, State: { Running: false, Pid: 0 } }, { onDockerHost: true })).toMatchObject({
      readable: false,
      reason: "not readable: the container is not running",
    });
  });

  it("a PID that here is some other process (another PID namespace) is not trusted", () => {
    const options = fakeHost("8:pids:/user.slice\n0::/user.slice\n", "40\n");
    expect(readKernelPidsMax(running, options)).toMatchObject({ readable: false, reason: expect.stringMatching(/another PID namespace/) });
  });

  it("a missing cgroup file is reported, not thrown", () => {
    const options = fakeHost(V1_HYBRID);
    expect(readKernelPidsMax(running, options)).toMatchObject({ readable: false, reason: expect.stringMatching(/pids\.max: ENOENT/) });
  });
});
