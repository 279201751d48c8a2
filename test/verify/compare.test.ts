/**
 * The comparison, from inspect documents shaped as the engine returns them (fixtures/*.json, for
 * the dev stack's app and Postgres): a document that matches passes, and each setting broken on
 * its own yields exactly one row that names it, with what is in force.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Role } from "../../infra/containerSettings";
import { allInForce, compareContainer, compareStack, type FoundContainer } from "../../infra/verify/compare";
import type { ContainerInspect } from "../../infra/verify/inspect";
import type { KernelReading } from "../../infra/verify/kernel";
import { readStackConfig } from "../../infra/verify/stackFile";
import { wantedContainers, type WantedContainer } from "../../infra/verify/wanted";
import { REPO_ROOT } from "../support/stackFiles";

const dev = wantedContainers(readStackConfig("dev", { projectDir: REPO_ROOT }));
const wantedApp = dev.find((c) => c.role === "app")!;
const wantedDb = dev.find((c) => c.role === "db")!;

function fixture(name: "dev-app" | "dev-db"): ContainerInspect {
  return JSON.parse(readFileSync(join(__dirname, "fixtures", `${name}.inspect.json`), "utf8")) as ContainerInspect;
}

const KERNEL_64: KernelReading = { readable: true, pidsMax: 64, file: "/sys/fs/cgroup/pids/docker/x/pids.max" };

function found(inspect: ContainerInspect, kernel: KernelReading = KERNEL_64, alsoLabelled: string[] = []): FoundContainer {
  return { inspect, kernel, alsoLabelled };
}

/** The rows that are not ok, as [setting, in force]. */
function problems(wanted: WantedContainer, container: FoundContainer | undefined): Array<[string, string, string]> {
  return compareContainer(wanted, container)
    .filter((row) => row.status !== "ok")
    .map((row) => [row.setting, row.inForce, row.status]);
}

/** A copy of the app fixture with one change applied. */
function appWith(change: (doc: ContainerInspect) => void): ContainerInspect {
  const doc = fixture("dev-app");
  change(doc);
  return doc;
}

describe("compare: a container as the stack wants it", () => {
  it("the app fixture passes, every setting checked", () => {
    const rows = compareContainer(wantedApp, found(fixture("dev-app")));
    expect(rows.map((r) => [r.setting, r.status])).toEqual([
      ["Container", "ok"],
      ["State", "ok"],
      ["Memory", "ok"],
      ["MemorySwap", "ok"],
      ["NanoCpus", "ok"],
      ["PidsLimit", "ok"],
      ["pids.max (kernel)", "ok"],
      ["Init", "ok"],
      ["RestartPolicy", "ok"],
      ["LogConfig.Type", "ok"],
      ["LogConfig max-size", "ok"],
      ["LogConfig max-file", "ok"],
      ["Healthcheck", "ok"],
      ["Label metamcp-guard.project", "ok"],
      ["Label metamcp-guard.stack", "ok"],
      ["Label metamcp-guard.role", "ok"],
    ]);
    expect(rows.find((r) => r.setting === "Memory")).toMatchObject({ wanted: "1g", inForce: "1g" });
    expect(rows.find((r) => r.setting === "NanoCpus")).toMatchObject({ wanted: "1 CPU", inForce: "1 CPU" });
  });

  it("the Postgres fixture passes: its health check need only be present", () => {
    expect(problems(wantedDb, found(fixture("dev-db")))).toEqual([]);
  });

  it("an unreadable kernel value is shown but is not a failure", () => {
    const rows = compareContainer(wantedApp, found(fixture("dev-app"), { readable: false, reason: "not readable: remote" }));
    expect(rows.find((r) => r.setting === "pids.max (kernel)")).toMatchObject({ inForce: "not readable: remote", status: "unreadable" });
    expect(allInForce(rows)).toBe(true);
  });
});

describe("compare: each setting wrong is reported exactly", () => {
  const CASES: Array<[string, (doc: ContainerInspect) => void, string, string]> = [
    ["memory raised by docker update", (d) => (d.HostConfig!.Memory = 2 * 1024 ** 3), "Memory", "2g"],
    ["memory cap removed", (d) => (d.HostConfig!.Memory = 0), "Memory", "unlimited (0)"],
    ["swap allowed (Docker's 2x default)", (d) => (d.HostConfig!.MemorySwap = 2 * 1024 ** 3), "MemorySwap", "2g"],
    ["unlimited swap", (d) => (d.HostConfig!.MemorySwap = -1), "MemorySwap", "unlimited (-1)"],
    ["another CPU cap", (d) => (d.HostConfig!.NanoCpus = 1_500_000_000), "NanoCpus", "1.5 CPUs"],
    ["no CPU cap", (d) => (d.HostConfig!.NanoCpus = 0), "NanoCpus", "unlimited (0)"],
    ["another PID cap", (d) => (d.HostConfig!.PidsLimit = 100), "PidsLimit", "100"],
    ["PID cap lifted (engine reads back 0)", (d) => (d.HostConfig!.PidsLimit = 0), "PidsLimit", "unlimited"],
    ["PID cap never set (null)", (d) => (d.HostConfig!.PidsLimit = null), "PidsLimit", "unlimited"],
    ["no init", (d) => (d.HostConfig!.Init = false), "Init", "false"],
    ["init never set (field left out)", (d) => delete d.HostConfig!.Init, "Init", "false"],
    ["restart policy off", (d) => (d.HostConfig!.RestartPolicy = { Name: "", MaximumRetryCount: 0 }), "RestartPolicy", "no"],
    ["another restart policy", (d) => (d.HostConfig!.RestartPolicy = { Name: "always" }), "RestartPolicy", "always"],
    ["another log driver", (d) => (d.HostConfig!.LogConfig!.Type = "local"), "LogConfig.Type", "local"],
    ["bigger log files", (d) => (d.HostConfig!.LogConfig!.Config!["max-size"] = "100m"), "LogConfig max-size", "100m"],
    ["no rotation count", (d) => delete d.HostConfig!.LogConfig!.Config!["max-file"], "LogConfig max-file", "(unset)"],
    ["no health check", (d) => delete d.Config!.Healthcheck, "Healthcheck", "none"],
    ["health check disabled", (d) => (d.Config!.Healthcheck = { Test: ["NONE"] }), "Healthcheck", "none"],
    ["another health check", (d) => (d.Config!.Healthcheck = { Test: ["CMD-SHELL", "true"] }), "Healthcheck", '["CMD-SHELL","true"]'],
    ["stack label missing", (d) => delete d.Config!.Labels!["metamcp-guard.stack"], "Label metamcp-guard.stack", "(absent)"],
    ["role label wrong", (d) => (d.Config!.Labels!["metamcp-guard.role"] = "db"), "Label metamcp-guard.role", "db"],
    ["stopped", (d) => (d.State = { Status: "exited", Running: false, Pid: 0 }), "State", "exited"],
    ["another name", (d) => (d.Name = "/metamcp-dev-old"), "Container", "metamcp-dev-old"],
  ];

  it.each(CASES)("%s", (_, change, setting, inForce) => {
    expect(problems(wantedApp, found(appWith(change)))).toEqual([[setting, inForce, "mismatch"]]);
  });

  it("no labels at all (re-created by hand, found by name): every label is reported", () => {
    expect(problems(wantedApp, found(appWith((d) => (d.Config!.Labels = null))))).toEqual([
      ["Label metamcp-guard.project", "(absent)", "mismatch"],
      ["Label metamcp-guard.stack", "(absent)", "mismatch"],
      ["Label metamcp-guard.role", "(absent)", "mismatch"],
    ]);
  });

  it("the kernel's pids.max differing from Docker's PidsLimit (a systemd reload undid an update)", () => {
    const rows = problems(wantedApp, found(fixture("dev-app"), { readable: true, pidsMax: -1, file: "/x/pids.max" }));
    expect(rows).toEqual([["pids.max (kernel)", "unlimited", "mismatch"]]);
  });

  it("a second container with the same labels (a copy started by hand)", () => {
    const rows = problems(wantedApp, found(fixture("dev-app"), KERNEL_64, ["metamcp-dev-copy"]));
    expect(rows).toEqual([["Containers with these labels", "2 (also metamcp-dev-copy)", "mismatch"]]);
  });

  it("a missing container is one MISSING row, and fails the stack", () => {
    const rows = compareStack(dev, new Map<Role, FoundContainer | undefined>([["app", found(fixture("dev-app"))]]));
    const missing = rows.filter((r) => r.status === "missing").map((r) => [r.container, r.setting, r.inForce]);
    expect(missing).toEqual([
      ["metamcp-dev-postgres", "Container", "missing"],
      ["metamcp-dev-monitor", "Container", "missing"],
    ]);
    expect(allInForce(rows)).toBe(false);
  });
});

describe("compare: CgroupParent, when the stack puts containers in slices", () => {
  const sliced = { ...wantedApp, cgroupParent: "/metamcp.slice/metamcp-app.slice" };

  it("is checked only when wanted", () => {
    expect(compareContainer(wantedApp, found(fixture("dev-app"))).some((r) => r.setting === "CgroupParent")).toBe(false);
  });

  it("passes in the slice and is reported outside it", () => {
    expect(problems(sliced, found(appWith((d) => (d.HostConfig!.CgroupParent = "/metamcp.slice/metamcp-app.slice"))))).toEqual([]);
    expect(problems(sliced, found(fixture("dev-app")))).toEqual([["CgroupParent", "(none)", "mismatch"]]);
  });
});
