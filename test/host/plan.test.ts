import { describe, expect, it } from "vitest";
import { cgroupParentFor, childSliceName, sliceCgroupPath } from "../../infra/host/names";
import { planSlices, sliceProblems, slicesOf, withHeadroom } from "../../infra/host/plan";
import { sliceSettings } from "./fixtures";

const MIB = 1024 * 1024;

describe("slice names and cgroupParent", () => {
  it("names children so systemd nests them in the parent", () => {
    expect(childSliceName("metamcp.slice", "app")).toBe("metamcp-app.slice");
    expect(childSliceName("team-metamcp.slice", "db")).toBe("team-metamcp-db.slice");
  });

  it("expands every dash prefix into the cgroup path, as systemd does", () => {
    expect(sliceCgroupPath("metamcp.slice")).toBe("/metamcp.slice");
    expect(sliceCgroupPath("metamcp-app.slice")).toBe("/metamcp.slice/metamcp-app.slice");
    expect(sliceCgroupPath("a-b-c.slice")).toBe("/a.slice/a-b.slice/a-b-c.slice");
  });

  it("gives the slice name under the systemd driver and the path under cgroupfs", () => {
    expect(cgroupParentFor("metamcp-app.slice", "systemd")).toBe("metamcp-app.slice");
    expect(cgroupParentFor("metamcp-app.slice", "cgroupfs")).toBe("/metamcp.slice/metamcp-app.slice");
  });

  it("refuses names systemd would not nest predictably", () => {
    for (const bad of ["-a.slice", "a-.slice", "a--b.slice", "a.service", "a b.slice", "a\\x2db.slice"]) {
      expect(() => sliceCgroupPath(bad), bad).toThrow(/not a slice name/);
    }
  });
});

describe("planSlices", () => {
  it("sizes each child at its container's limits plus headroom", () => {
    const plan = planSlices(sliceSettings());
    expect(plan.children.app).toEqual({
      unit: "metamcp-app.slice",
      role: "app",
      description: "metamcp-guard prod: app container limits",
      memoryMax: Math.ceil(4096 * 1.1) * MIB, // 4506 MiB
      memorySwapMax: 0,
      tasksMax: 110,
      cpuQuotaPercent: 220,
    });
    expect(plan.children.monitor).toMatchObject({ memoryMax: 141 * MIB, tasksMax: 18, cpuQuotaPercent: 28 });
    expect(plan.children.db).toMatchObject({ memoryMax: 1127 * MIB, tasksMax: 110, cpuQuotaPercent: 110 });
  });

  it("caps the parent at the children's sum plus headroom", () => {
    const plan = planSlices(sliceSettings());
    expect(plan.parent).toMatchObject({
      unit: "metamcp.slice",
      role: "parent",
      memoryMax: Math.ceil((4506 + 1127 + 141) * 1.1) * MIB,
      tasksMax: Math.ceil((110 + 110 + 18) * 1.1),
      cpuQuotaPercent: Math.ceil((220 + 110 + 28) * 1.1),
    });
  });

  it("uses the stated headroom, including none", () => {
    const plan = planSlices(sliceSettings({ host: { headroomPercent: 0 } }));
    expect(plan.children.app).toMatchObject({ memoryMax: 4096 * MIB, tasksMax: 100, cpuQuotaPercent: 200 });
    expect(plan.parent).toMatchObject({ tasksMax: 216, cpuQuotaPercent: 325 });
  });

  it("declares slices only for the containers the stack runs", () => {
    const plan = planSlices(sliceSettings({ dbExternal: true, monitor: false }));
    expect(Object.keys(plan.children)).toEqual(["app"]);
    expect(slicesOf(plan).map((s) => s.unit)).toEqual(["metamcp.slice", "metamcp-app.slice"]);
    expect(plan.cgroupParents).toEqual({ app: "metamcp-app.slice" });
  });

  it("gives each container its cgroupParent for the host's driver", () => {
    expect(planSlices(sliceSettings()).cgroupParents).toEqual({
      app: "metamcp-app.slice",
      db: "metamcp-db.slice",
      monitor: "metamcp-monitor.slice",
    });
    expect(planSlices(sliceSettings({ namePrefix: "guard", host: { cgroupDriver: "cgroupfs", parent: "guard.slice" } })).cgroupParents).toEqual({
      app: "/guard.slice/guard-app.slice",
      db: "/guard.slice/guard-db.slice",
      monitor: "/guard.slice/guard-monitor.slice",
    });
  });

  it("refuses to plan a slice the stack does not own, whoever calls it (issue 12)", () => {
    for (const parent of ["system.slice", "user-1000.slice", "machine.slice", "other.slice", "metamcpx.slice"]) {
      expect(() => planSlices(sliceSettings({ host: { parent } })), parent).toThrow(`metamcp-guard:host.slices.parent "${parent}" is not a slice of this stack; allowed: metamcp.slice or metamcp-<name>.slice`);
    }
    expect(() => planSlices(sliceSettings({ namePrefix: "system", host: { parent: "system.slice" } }))).toThrow(/inside systemd's own system\.slice/);
    expect(planSlices(sliceSettings({ host: { parent: "metamcp-team.slice" } })).children.app?.unit).toBe("metamcp-team-app.slice");
  });

  it("does not round a whole unit up because of binary fractions", () => {
    expect(0.07 * 100).not.toBe(7); // the trap: 7.000000000000001
    expect(withHeadroom(0.07 * 100, 0)).toBe(7);
    expect(withHeadroom(50, 10)).toBe(55);
    expect(withHeadroom(25, 10)).toBe(28); // 27.5 → 28
    expect(withHeadroom(16, 10)).toBe(18); // 17.6 → 18
  });

  it("refuses swap for a container, which MemorySwapMax=0 would silently deny", () => {
    const settings = sliceSettings();
    settings.app.limits = { ...settings.app.limits, memorySwap: settings.app.limits.memory * 2 };
    expect(sliceProblems(settings)).toEqual([
      "metamcp-guard:app.limits.memorySwap must equal memory when host.slices.enabled is true (the slices allow no swap)",
    ]);
    expect(() => planSlices(settings)).toThrow(/app\.limits\.memorySwap must equal memory/);
    settings.host.slices.enabled = false;
    expect(sliceProblems(settings)).toEqual([]);
  });
});
