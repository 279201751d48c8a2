/**
 * The comparison, from inspect documents shaped as the engine returns them (fixtures/*.json, for
 * the dev stack's app, Postgres and monitor): a document that matches passes, and each setting
 * broken on its own yields exactly one row that names it, with what is in force.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Role } from "../../infra/containerSettings";
import { allInForce, compareContainer, compareStack, type FoundContainer, type FoundContainers } from "../../infra/verify/compare";
import type { ContainerInspect } from "../../infra/verify/inspect";
import { cgroupLocation, type KernelLimits, type KernelReading } from "../../infra/verify/kernel";
import { readStackConfig } from "../../infra/verify/stackFile";
import { wantedContainers, type WantedContainer } from "../../infra/verify/wanted";
import { REPO_ROOT } from "../support/stackFiles";

const dev = wantedContainers(readStackConfig("dev", { projectDir: REPO_ROOT }));
const wantedApp = dev.find((c) => c.role === "app")!;
const wantedDb = dev.find((c) => c.role === "db")!;
const wantedMonitor = dev.find((c) => c.role === "monitor")!;
const wantedGuard = dev.find((c) => c.role === "guard")!;

function fixture(name: "dev-app" | "dev-db" | "dev-monitor" | "dev-guard"): ContainerInspect {
  return JSON.parse(readFileSync(join(__dirname, "fixtures", `${name}.inspect.json`), "utf8")) as ContainerInspect;
}

/** What the kernel holds for a container in force as `wanted` says (cgroup v2), with `change` applied. */
function kernelOf(wanted: WantedContainer, change: Partial<KernelLimits> = {}): KernelReading {
  return {
    readable: true,
    location: cgroupLocation(`0::/system.slice/docker-${wanted.name}.scope`)!,
    limits: {
      version: 2,
      memory: { value: wanted.memory },
      swap: { value: { bytes: wanted.memorySwap - wanted.memory } },
      pids: { value: wanted.pidsLimit },
      cpus: { value: wanted.nanoCpus / 1e9 },
      ...change,
    },
  };
}

/** The kernel values of the fixture's container (by name, else role label) as the dev stack wants them. */
function kernelFor(inspect: ContainerInspect): KernelReading {
  const wanted =
    dev.find((c) => `/${c.name}` === inspect.Name) ?? dev.find((c) => c.role === inspect.Config?.Labels?.["metamcp-guard.role"]) ?? wantedApp;
  return kernelOf(wanted);
}

function found(inspect: ContainerInspect, kernel: KernelReading = kernelFor(inspect), alsoLabelled: string[] = []): FoundContainer {
  return { inspect, kernel, alsoLabelled };
}

/** The rows that are not ok, as [setting, in force, status]. */
function problems(wanted: WantedContainer, container: FoundContainer | undefined, others?: FoundContainers): Array<[string, string, string]> {
  return compareContainer(wanted, container, others)
    .filter((row) => row.status !== "ok")
    .map((row) => [row.setting, row.inForce, row.status]);
}

/** A copy of a fixture with one change applied. */
function fixtureWith(name: "dev-app" | "dev-db" | "dev-monitor" | "dev-guard", change: (doc: ContainerInspect) => void): ContainerInspect {
  const doc = fixture(name);
  change(doc);
  return doc;
}

function appWith(change: (doc: ContainerInspect) => void): ContainerInspect {
  return fixtureWith("dev-app", change);
}

/** The stack's other containers as verify finds them: the monitor's PidMode names the app fixture's id. */
const DEV_OTHERS: FoundContainers = new Map<Role, FoundContainer>([
  ["app", found(fixture("dev-app"))],
  ["db", found(fixture("dev-db"))],
]);

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
      ["memory.max (kernel)", "ok"],
      ["memory.swap.max (kernel)", "ok"],
      ["pids.max (kernel)", "ok"],
      ["cpu.max (kernel)", "ok"],
      ["Init", "ok"],
      ["RestartPolicy", "ok"],
      ["LogConfig.Type", "ok"],
      ["LogConfig max-size", "ok"],
      ["LogConfig max-file", "ok"],
      ["Healthcheck", "ok"],
      ["SecurityOpt no-new-privileges", "ok"],
      ["Privileged", "ok"],
      ["CapAdd", "ok"],
      ["Docker socket", "ok"],
      ["Label metamcp-guard.project", "ok"],
      ["Label metamcp-guard.stack", "ok"],
      ["Label metamcp-guard.role", "ok"],
    ]);
    expect(rows.find((r) => r.setting === "Memory")).toMatchObject({ wanted: "2g", inForce: "2g" });
    expect(rows.find((r) => r.setting === "NanoCpus")).toMatchObject({ wanted: "1 CPU", inForce: "1 CPU" });
    expect(rows.find((r) => r.setting === "SecurityOpt no-new-privileges")).toMatchObject({ wanted: "true", inForce: "true" });
    expect(rows.find((r) => r.setting === "CapAdd")).toMatchObject({ wanted: "(none)", inForce: "(none)" });
    expect(rows.find((r) => r.setting === "Docker socket")).toMatchObject({ wanted: "not mounted", inForce: "not mounted" });
  });

  it("the Postgres fixture passes: its health check need only be present, its named volume is no host path", () => {
    expect(problems(wantedDb, found(fixture("dev-db")))).toEqual([]);
  });

  it("the monitor fixture passes, its hardening checked, in the PID namespace of the app verify found", () => {
    const rows = compareContainer(wantedMonitor, found(fixture("dev-monitor")), DEV_OTHERS);
    expect(rows.filter((r) => r.status !== "ok")).toEqual([]);
    expect(rows.map((r) => [r.setting, r.wanted, r.inForce]).slice(rows.findIndex((r) => r.setting === "Healthcheck"), -3)).toEqual([
      ["Healthcheck", '["CMD","node","/app/dist/healthcheck.js"]', '["CMD","node","/app/dist/healthcheck.js"]'],
      ["SecurityOpt no-new-privileges", "true", "true"],
      ["Privileged", "false", "false"],
      ["CapAdd", "KILL", "KILL"],
      ["CapDrop", "includes ALL", "ALL"],
      ["ReadonlyRootfs", "true", "true"],
      ["PidMode", `container:${"a".repeat(64)}`, `container:${"a".repeat(64)}`],
      ["Docker socket", "not mounted", "not mounted"],
    ]);
    expect(rows.some((r) => r.setting === "Init")).toBe(false);
  });

  it("compareStack hands the monitor the app it found", () => {
    const stack = new Map<Role, FoundContainer | undefined>([
      ...DEV_OTHERS,
      ["monitor", found(fixture("dev-monitor"))],
      ["guard", found(fixture("dev-guard"))],
    ]);
    const rows = compareStack(dev, stack);
    expect(rows.find((r) => r.role === "monitor" && r.setting === "PidMode")).toMatchObject({ status: "ok" });
    expect(allInForce(rows)).toBe(true);
  });

  it("the session guard fixture passes: every capability dropped, none added, a read-only root", () => {
    expect(problems(wantedGuard, found(fixture("dev-guard")))).toEqual([]);
  });

  it("a guard that adds a capability or writes its root is reported", () => {
    const guard = fixtureWith("dev-guard", (d) => Object.assign(d.HostConfig!, { CapAdd: ["NET_RAW"], ReadonlyRootfs: false }));
    expect(problems(wantedGuard, found(guard)).map(([setting]) => setting).sort()).toEqual(["CapAdd", "ReadonlyRootfs"]);
  });

  it("an unreadable kernel is shown, one row per value, but is not a failure", () => {
    const rows = compareContainer(wantedApp, found(fixture("dev-app"), { readable: false, reason: "not readable: tcp:// engine" }));
    expect(rows.filter((r) => r.setting.endsWith("(kernel)")).map((r) => [r.setting, r.wanted, r.inForce, r.status])).toEqual([
      ["memory.max (kernel)", "2g", "not readable: tcp:// engine", "unreadable"],
      ["memory.swap.max (kernel)", "none (0)", "not readable: tcp:// engine", "unreadable"],
      ["pids.max (kernel)", "232", "not readable: tcp:// engine", "unreadable"],
      ["cpu.max (kernel)", "1 CPU", "not readable: tcp:// engine", "unreadable"],
    ]);
    expect(allInForce(rows)).toBe(true);
  });

  it("one kernel value unreadable (swap accounting off) is that row only", () => {
    const rows = compareContainer(wantedApp, found(fixture("dev-app"), kernelOf(wantedApp, { swap: { unreadable: "not readable: x: ENOENT" } })));
    expect(rows.filter((r) => r.status !== "ok").map((r) => [r.setting, r.status])).toEqual([["memory.swap.max (kernel)", "unreadable"]]);
  });
});

describe("compare: each setting wrong is reported exactly", () => {
  const CASES: Array<[string, (doc: ContainerInspect) => void, string, string]> = [
    ["memory raised by docker update", (d) => (d.HostConfig!.Memory = 3 * 1024 ** 3), "Memory", "3g"],
    ["memory cap removed", (d) => (d.HostConfig!.Memory = 0), "Memory", "unlimited (0)"],
    ["swap allowed (Docker's 2x default)", (d) => (d.HostConfig!.MemorySwap = 4 * 1024 ** 3), "MemorySwap", "4g"],
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
    ["no security options", (d) => (d.HostConfig!.SecurityOpt = null), "SecurityOpt no-new-privileges", "(absent)"],
    ["another security option only", (d) => (d.HostConfig!.SecurityOpt = ["seccomp=unconfined"]), "SecurityOpt no-new-privileges", "(absent)"],
    ["no-new-privileges switched off", (d) => (d.HostConfig!.SecurityOpt = ["no-new-privileges:false"]), "SecurityOpt no-new-privileges", "false"],
    ["privileged", (d) => (d.HostConfig!.Privileged = true), "Privileged", "true"],
    ["a capability added", (d) => (d.HostConfig!.CapAdd = ["NET_ADMIN"]), "CapAdd", "NET_ADMIN"],
    ["a capability added as the CLI writes it", (d) => (d.HostConfig!.CapAdd = ["CAP_SYS_PTRACE", "cap_kill"]), "CapAdd", "KILL, SYS_PTRACE"],
    ["the Docker socket bound with -v", (d) => (d.HostConfig!.Binds = ["/var/run/docker.sock:/var/run/docker.sock:ro"]), "Docker socket", "/var/run/docker.sock"],
    ["/run bound with --mount (holds the socket)", (d) => (d.HostConfig!.Mounts = [{ Type: "bind", Source: "/run", Target: "/host-run" }]), "Docker socket", "/run (holds /run/docker.sock)"],
    ["the socket mounted, seen only in force", (d) => (d.Mounts = [{ Type: "bind", Source: "/run/docker.sock", Destination: "/s" }]), "Docker socket", "/run/docker.sock"],
  ];

  it.each(CASES)("%s", (_, change, setting, inForce) => {
    expect(problems(wantedApp, found(appWith(change)))).toEqual([[setting, inForce, "mismatch"]]);
  });

  it.each([
    ["no-new-privileges", ["no-new-privileges"]],
    ["no-new-privileges=true", ["no-new-privileges=true"]],
    ["no-new-privileges:1 among others", ["label=disable", "no-new-privileges:1"]],
  ])("no-new-privileges written as %s is in force", (_, opts) => {
    expect(problems(wantedApp, found(appWith((d) => (d.HostConfig!.SecurityOpt = opts))))).toEqual([]);
  });

  it("binds that are not the socket pass; the socket bound twice (-v, and so in force) is one path", () => {
    const binds = appWith((d) => {
      d.HostConfig!.Binds = ["/srv/data:/data", "named-volume:/cache"];
      d.Mounts = [{ Type: "bind", Source: "/srv/data", Destination: "/data" }];
    });
    expect(problems(wantedApp, found(binds))).toEqual([]);
    const socket = appWith((d) => {
      d.HostConfig!.Binds = ["/var/run/docker.sock:/var/run/docker.sock"];
      d.Mounts = [{ Type: "bind", Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock" }];
    });
    expect(problems(wantedApp, found(socket))).toEqual([["Docker socket", "/var/run/docker.sock", "mismatch"]]);
  });

  it("no labels at all (re-created by hand, found by name): every label is reported", () => {
    expect(problems(wantedApp, found(appWith((d) => (d.Config!.Labels = null))))).toEqual([
      ["Label metamcp-guard.project", "(absent)", "mismatch"],
      ["Label metamcp-guard.stack", "(absent)", "mismatch"],
      ["Label metamcp-guard.role", "(absent)", "mismatch"],
    ]);
  });

  it("the kernel's pids.max differing from Docker's PidsLimit (a systemd reload undid an update)", () => {
    const rows = problems(wantedApp, found(fixture("dev-app"), kernelOf(wantedApp, { pids: { value: -1 } })));
    expect(rows).toEqual([["pids.max (kernel)", "unlimited", "mismatch"]]);
  });

  it("swap turned back on under Docker (memory.swap.max max after a daemon-reload, cgroup v2 with systemd)", () => {
    const rows = problems(wantedApp, found(fixture("dev-app"), kernelOf(wantedApp, { swap: { value: { bytes: Infinity } } })));
    expect(rows).toEqual([["memory.swap.max (kernel)", "unlimited (max)", "mismatch"]]);
  });

  it("swap max on the container but 0 on a slice above it is in force, and says where it binds", () => {
    const bound = kernelOf(wantedApp, { swap: { value: { bytes: 0, boundBy: "/sys/fs/cgroup/metamcp.slice/metamcp-app.slice" } } });
    const row = compareContainer(wantedApp, found(fixture("dev-app"), bound)).find((r) => r.setting === "memory.swap.max (kernel)");
    expect(row).toMatchObject({ wanted: "none (0)", inForce: "none (0) (bound by /sys/fs/cgroup/metamcp.slice/metamcp-app.slice)", status: "ok" });
  });

  it.each([
    ["memory.max (kernel)", { memory: { value: Infinity } }, "unlimited (max)"],
    ["memory.max (kernel)", { memory: { value: 3 * 1024 ** 3 } }, "3g"],
    ["cpu.max (kernel)", { cpus: { value: Infinity } }, "unlimited (max)"],
    ["cpu.max (kernel)", { cpus: { value: 2 } }, "2 CPUs"],
  ])("the kernel's %s changed under Docker: %j", (setting, change, inForce) => {
    expect(problems(wantedApp, found(fixture("dev-app"), kernelOf(wantedApp, change as Partial<KernelLimits>)))).toEqual([[setting, inForce, "mismatch"]]);
  });

  it("a second container with the same labels (a copy started by hand)", () => {
    const rows = problems(wantedApp, found(fixture("dev-app"), undefined, ["metamcp-dev-copy"]));
    expect(rows).toEqual([["Containers with these labels", "2 (also metamcp-dev-copy)", "mismatch"]]);
  });

  it("a missing container is one MISSING row, and fails the stack", () => {
    const rows = compareStack(dev, new Map<Role, FoundContainer | undefined>([["app", found(fixture("dev-app"))]]));
    const missing = rows.filter((r) => r.status === "missing").map((r) => [r.container, r.setting, r.inForce]);
    expect(missing).toEqual([
      ["metamcp-dev-postgres", "Container", "missing"],
      ["metamcp-dev-monitor", "Container", "missing"],
      ["metamcp-dev-guard", "Container", "missing"],
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

describe("compare: the monitor's hardening, each setting wrong reported exactly", () => {
  const APP_ID = "a".repeat(64);
  const monitorWith = (change: (doc: ContainerInspect) => void) => found(fixtureWith("dev-monitor", change));

  const CASES: Array<[string, (doc: ContainerInspect) => void, string, string]> = [
    ["another health check", (d) => (d.Config!.Healthcheck = { Test: ["CMD-SHELL", "true"] }), "Healthcheck", '["CMD-SHELL","true"]'],
    ["no health check", (d) => delete d.Config!.Healthcheck, "Healthcheck", "none"],
    ["without no-new-privileges", (d) => (d.HostConfig!.SecurityOpt = null), "SecurityOpt no-new-privileges", "(absent)"],
    ["a capability beyond KILL", (d) => (d.HostConfig!.CapAdd = ["KILL", "NET_ADMIN"]), "CapAdd", "KILL, NET_ADMIN"],
    ["KILL not added", (d) => (d.HostConfig!.CapAdd = null), "CapAdd", "(none)"],
    ["nothing dropped", (d) => (d.HostConfig!.CapDrop = null), "CapDrop", "(none)"],
    ["some dropped, not ALL", (d) => (d.HostConfig!.CapDrop = ["NET_RAW", "MKNOD"]), "CapDrop", "MKNOD, NET_RAW"],
    ["a writable root", (d) => (d.HostConfig!.ReadonlyRootfs = false), "ReadonlyRootfs", "false"],
    ["read-only never set (field left out)", (d) => delete d.HostConfig!.ReadonlyRootfs, "ReadonlyRootfs", "false"],
    ["in its own PID namespace", (d) => (d.HostConfig!.PidMode = ""), "PidMode", "(own namespace)"],
    ["in the host's PID namespace", (d) => (d.HostConfig!.PidMode = "host"), "PidMode", "host"],
    ["in an old MetaMCP's namespace (MetaMCP re-created, monitor not)", (d) => (d.HostConfig!.PidMode = `container:${"d".repeat(64)}`), "PidMode", `container:${"d".repeat(64)}`],
    ["in Postgres's namespace", (d) => (d.HostConfig!.PidMode = `container:${"b".repeat(64)}`), "PidMode", `container:${"b".repeat(64)}`],
    ["privileged", (d) => (d.HostConfig!.Privileged = true), "Privileged", "true"],
    ["the Docker socket bound", (d) => (d.HostConfig!.Binds = ["/var/run/docker.sock:/var/run/docker.sock"]), "Docker socket", "/var/run/docker.sock"],
  ];

  it.each(CASES)("%s", (_, change, setting, inForce) => {
    expect(problems(wantedMonitor, monitorWith(change), DEV_OTHERS)).toEqual([[setting, inForce, "mismatch"]]);
  });

  it.each([
    ["as the 20.10 CLI writes them (CAP_KILL)", { CapAdd: ["CAP_KILL"], CapDrop: ["ALL"] }],
    ["in lower case", { CapAdd: ["kill"], CapDrop: ["all"] }],
    ["with more dropped than ALL", { CapAdd: ["KILL"], CapDrop: ["ALL", "NET_RAW"] }],
  ])("capabilities %s pass", (_, caps) => {
    expect(problems(wantedMonitor, monitorWith((d) => Object.assign(d.HostConfig!, caps)), DEV_OTHERS)).toEqual([]);
  });

  it("with MetaMCP missing, the PidMode row says what it wanted and fails", () => {
    const rows = compareContainer(wantedMonitor, found(fixture("dev-monitor")), new Map<Role, FoundContainer>([["db", found(fixture("dev-db"))]]));
    expect(rows.filter((r) => r.status !== "ok").map((r) => [r.setting, r.wanted, r.inForce, r.status])).toEqual([
      ["PidMode", "container:<id of metamcp-dev> (missing)", `container:${APP_ID}`, "mismatch"],
    ]);
    expect(allInForce(rows)).toBe(false);
  });
});
