/**
 * The slice policies over the Commands HostSlices really declares (infra/host, under mocks),
 * with synthetic containers placed as the stack places them, so that each case changes one
 * thing. packSlices.test.ts runs the whole pack over the prod stack as the program declares it.
 */
import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import type { Role } from "../../policy/resources";
import { REMOTE_COMMAND } from "../../policy/resources";
import { containersInSlices, prodSlicesEnabled, sliceAndAncestors, sliceCapsCoverContainers, sliceOfCgroupParent, sliceOfScript } from "../../policy/slices";
import { ROLES } from "../../infra/host/names";
import { planSlices, slicesOf } from "../../infra/host/plan";
import { declareHostSlices } from "../host/declare";
import { sliceSettings } from "../host/fixtures";
import { plainInputs, resource, validateStack } from "./support/harness";
import { container, type ContainerSpec, pidsLimitFor } from "./support/fixtures";

const MIB = 1024 * 1024;

interface Layout {
  driver?: "systemd" | "cgroupfs";
  /** Property changes per role, applied to the container the stack would declare. */
  change?: Partial<Record<Role, ContainerSpec["props"]>>;
  pids?: Partial<Record<Role, number>>;
}

/** The prod stack with slices on: HostSlices' Commands, and each container placed in its slice. */
async function slicedStack(layout: Layout = {}): Promise<PolicyResource[]> {
  const settings = sliceSettings({ host: { cgroupDriver: layout.driver ?? "systemd" }, ssh: { user: "deploy" } });
  const { commands, host } = await declareHostSlices(settings, "test-key");
  const resources = commands.map((c) => resource({ type: REMOTE_COMMAND, name: c.name, stack: "prod", props: plainInputs(c.inputs) }));
  const limitsOf: Partial<Record<(typeof ROLES)[number], typeof settings.app.limits>> = { app: settings.app.limits, db: settings.database.limits, monitor: settings.monitor.limits };
  for (const role of ROLES) {
    const limits = limitsOf[role];
    if (!limits) continue;
    const placed = container({
      role,
      stack: "prod",
      props: { memory: limits.memory / MIB, memorySwap: limits.memorySwap / MIB, cpus: String(limits.cpus), cgroupParent: host.cgroupParent(role), ...layout.change?.[role] },
    });
    resources.push(placed, pidsLimitFor(placed, layout.pids?.[role] ?? limits.pids));
  }
  return resources;
}

const messages = (outcome: { violations: { message: string }[] }) => outcome.violations.map((v) => v.message);

describe("reading what HostSlices declares", () => {
  it("reads each Command's unit and caps from its create script, as the plan made them", async () => {
    const settings = sliceSettings({ ssh: { user: "deploy" } });
    const { commands } = await declareHostSlices(settings, "test-key");
    const read = commands.map((c) => sliceOfScript(plainInputs(c.inputs).create));
    expect(read).toEqual(
      slicesOf(planSlices(settings)).map((spec) => ({
        unit: spec.unit,
        memoryMaxBytes: spec.memoryMax,
        tasksMax: spec.tasksMax,
        cpuQuotaPercent: spec.cpuQuotaPercent,
      })),
    );
  });

  it("ignores a Command that writes no slice", () => {
    expect(sliceOfScript("systemctl restart docker")).toBeUndefined();
  });

  it("finds the slice in either driver's cgroupParent", () => {
    expect(["metamcp-app.slice", "/metamcp.slice/metamcp-app.slice", "/docker", ""].map(sliceOfCgroupParent)).toEqual([
      "metamcp-app.slice",
      "metamcp-app.slice",
      undefined,
      undefined,
    ]);
  });

  it("nests slices by their dashes, as systemd does", () => {
    expect(sliceAndAncestors("metamcp-prod-app.slice")).toEqual(["metamcp-prod-app.slice", "metamcp-prod.slice", "metamcp.slice"]);
  });
});

describe.each(["systemd", "cgroupfs"] as const)("with the %s cgroup driver", (driver) => {
  it("passes every container in its planned slice", async () => {
    const resources = await slicedStack({ driver });
    expect(await validateStack(containersInSlices, resources)).toEqual({ violations: [] });
    expect(await validateStack(sliceCapsCoverContainers, resources)).toEqual({ violations: [] });
  });
});

describe("containers-in-slices", () => {
  it("does not apply to a stack without slices", async () => {
    const app = container();
    const outcome = await validateStack(containersInSlices, [app, pidsLimitFor(app)]);
    expect(outcome.notApplicable).toContain("declares no systemd slices");
  });

  it("fails a container left outside the slices", async () => {
    const resources = await slicedStack({ change: { monitor: { cgroupParent: undefined } } });
    expect(messages(await validateStack(containersInSlices, resources))).toEqual([
      "monitor-container (metamcp-prod-monitor) has no cgroupParent: it runs outside the stack's slices, so their caps do not bind it.",
    ]);
  });

  it("fails a cgroupParent that is not a slice", async () => {
    const resources = await slicedStack({ change: { app: { cgroupParent: "/docker-custom" } } });
    expect(messages(await validateStack(containersInSlices, resources))).toEqual([expect.stringContaining("/docker-custom, which is not a systemd slice")]);
  });

  it("fails a slice the stack does not declare", async () => {
    const resources = await slicedStack({ change: { db: { cgroupParent: "other.slice" } } });
    expect(messages(await validateStack(containersInSlices, resources))).toEqual([expect.stringContaining("sits in other.slice, which this stack does not declare")]);
  });

  it("applies when only a container has a cgroupParent (slices declared elsewhere)", async () => {
    const app = container({ props: { cgroupParent: "metamcp-app.slice" } });
    expect(messages(await validateStack(containersInSlices, [app, pidsLimitFor(app)]))).toEqual([expect.stringContaining("which this stack does not declare")]);
  });
});

describe("slice-caps-cover-containers", () => {
  it("fails a container whose memory outgrew its slice, on the slice and the parent", async () => {
    const resources = await slicedStack({ change: { app: { memory: 8192, memorySwap: 8192 } } });
    const outcome = await validateStack(sliceCapsCoverContainers, resources);
    expect(messages(outcome)).toEqual([
      expect.stringMatching(/^metamcp\.slice is smaller than .*MemoryMax \d+ bytes < 9344 MiB/),
      expect.stringMatching(/^metamcp-app\.slice is smaller than app-container \(metamcp-prod\): MemoryMax \d+ bytes < 8192 MiB/),
    ]);
    expect(outcome.violations.map((v) => v.urn)).toEqual([expect.stringContaining("::host-metamcp.slice"), expect.stringContaining("::host-metamcp-app.slice")]);
  });

  it("fails a PID limit above the slice's TasksMax", async () => {
    const resources = await slicedStack({ pids: { monitor: 500 } });
    expect(messages(await validateStack(sliceCapsCoverContainers, resources))).toEqual([
      expect.stringMatching(/^metamcp\.slice is smaller than .*: TasksMax 262 < 700 PIDs/),
      expect.stringContaining("metamcp-monitor.slice is smaller than monitor-container (metamcp-prod-monitor): TasksMax 18 < 500 PIDs"),
    ]);
  });

  it("fails a CPU limit above the slice's CPUQuota", async () => {
    const resources = await slicedStack({ change: { db: { cpus: "2" } } });
    expect(messages(await validateStack(sliceCapsCoverContainers, resources))).toEqual([
      expect.stringMatching(/^metamcp\.slice is smaller than .*: CPUQuota 394% < 4.25 CPUs/),
      expect.stringContaining("metamcp-db.slice is smaller than db-container (metamcp-prod-db): CPUQuota 110% < 2 CPUs"),
    ]);
  });

  it("does not apply to a stack without slices", async () => {
    expect((await validateStack(sliceCapsCoverContainers, [container()])).notApplicable).toContain("declares no systemd slices");
  });
});

describe("prod-slices-enabled", () => {
  it("passes prod in its slices", async () => {
    expect(await validateStack(prodSlicesEnabled, await slicedStack())).toEqual({ violations: [] });
  });

  it("fails prod without slices (one docker update lifts every limit)", async () => {
    const app = container({ stack: "prod" });
    expect(messages(await validateStack(prodSlicesEnabled, [app, pidsLimitFor(app)]))).toEqual([
      expect.stringContaining("prod runs its containers outside systemd slices: a single `docker update` lifts every limit. Set host.slices.enabled: true"),
    ]);
  });

  it("leaves other stacks alone, unless allStacks or productionStacks says otherwise", async () => {
    const app = container({ stack: "staging" });
    expect([
      (await validateStack(prodSlicesEnabled, [app])).notApplicable,
      messages(await validateStack(prodSlicesEnabled, [app], { allStacks: true })).length,
      messages(await validateStack(prodSlicesEnabled, [app], { productionStacks: ["staging"] })).length,
    ]).toEqual(["staging is not a production stack", 1, 1]);
  });
});
