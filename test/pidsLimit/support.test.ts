// Tests of the shared real-engine support (test/support/*), which every real-engine suite relies on.
import { afterAll, describe, expect, it } from "vitest";
import { docker, describeWithDocker, dockerSuiteMode, removeTestContainers, runTestContainer, TEST_LABEL } from "../support/docker";
import { busyboxImage, nodeImage, parseLdd } from "../support/images";

describe("parseLdd", () => {
  it("keeps resolved libraries and the loader, drops the vdso", () => {
    const out = [
      "\tlinux-vdso.so.1 (0x00007ffd5c9f2000)",
      "\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f0c3c1e0000)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f0c3bf00000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c3c1f0000)",
    ].join("\n");
    expect(parseLdd(out)).toEqual([
      "/lib/x86_64-linux-gnu/libdl.so.2",
      "/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ]);
  });
});

describe("dockerSuiteMode", () => {
  it("runs with an engine, fails without one in CI, skips without one locally", () => {
    expect(dockerSuiteMode(undefined, "true")).toBe("run");
    expect(dockerSuiteMode(undefined, undefined)).toBe("run");
    expect(dockerSuiteMode("no Docker engine", "true")).toBe("fail");
    expect(dockerSuiteMode("no Docker engine", undefined)).toBe("skip");
    expect(dockerSuiteMode("no Docker engine", "")).toBe("skip");
  });
});

describeWithDocker("test support on a real engine", () => {
  afterAll(removeTestContainers);

  it("busyboxImage runs sh with applets on PATH", async () => {
    const image = await busyboxImage();
    expect(await docker("run", "--rm", "--network", "none", image, "sh", "-c", "echo hi; ls /bin/sleep")).toBe(
      "hi\n/bin/sleep",
    );
  });

  it("nodeImage runs the same Node version as this process", async () => {
    const image = await nodeImage();
    expect(await docker("run", "--rm", "--network", "none", image, "node", "-p", "process.version")).toBe(
      process.version,
    );
  });

  it("removeTestContainers removes labelled containers and leaves others alone", async () => {
    const image = await busyboxImage();
    const ours = await runTestContainer("--network", "none", image, "sleep", "300");
    const other = await docker("run", "-d", "--network", "none", image, "sleep", "300");
    try {
      await removeTestContainers();
      const left = await docker("ps", "-aq", "--no-trunc", "--filter", `label=${TEST_LABEL}`);
      expect(left).not.toContain(ours);
      expect(await docker("inspect", "-f", "{{.State.Running}}", other)).toBe("true");
    } finally {
      await docker("rm", "-f", other);
    }
  });
});
