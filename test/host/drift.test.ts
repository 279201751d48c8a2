import { describe, expect, it } from "vitest";
import { compareWithHost, formatDriftReport, parseShowOutput } from "../../infra/host/drift";
import { planSlices, slicesOf } from "../../infra/host/plan";
import { expectedKernel, expectedShow } from "../../infra/host/unitFile";
import { sliceSettings } from "./fixtures";

const plan = planSlices(sliceSettings({ dbExternal: true, monitor: false }));

/** What showScript prints on a host where every unit is as planned. */
function hostOutput(edit: (unit: string, props: Record<string, string>) => void = () => {}, cgroupFs = "cgroup2fs"): string {
  const lines: string[] = [];
  for (const spec of slicesOf(plan)) {
    const props: Record<string, string> = {
      ...expectedShow(spec),
      ActiveState: "active",
      FragmentPath: `/etc/systemd/system/${spec.unit}`,
      NeedDaemonReload: "no",
      DropInPaths: "",
      TasksCurrent: "3",
    };
    const kernel = expectedKernel(spec, cgroupFs === "cgroup2fs" ? 2 : 1);
    for (const [name, value] of Object.entries(kernel)) props[`Kernel.${name}`] = value!;
    edit(spec.unit, props);
    lines.push(`@unit=${spec.unit}`, ...Object.entries(props).map(([k, v]) => `${k}=${v}`));
  }
  lines.push(`@cgroupfs=${cgroupFs}`);
  return lines.join("\n") + "\n";
}

describe("host drift", () => {
  it("finds none when the host holds the plan", () => {
    const report = compareWithHost(plan, parseShowOutput(hostOutput()));
    expect(report).toEqual({ drifts: [], cgroupVersion: 2, notes: [] });
    expect(formatDriftReport("h", report)).toBe("h: host slices match the stack");
  });

  it("reports a limit edited by hand, with the wanted and found values", () => {
    const shown = parseShowOutput(hostOutput((unit, p) => unit === "metamcp-app.slice" && (p.TasksMax = "5000")));
    const report = compareWithHost(plan, shown);
    expect(report.drifts).toEqual([{ unit: "metamcp-app.slice", property: "TasksMax", wanted: "110", found: "5000" }]);
    expect(formatDriftReport("h", report)).toMatch(/1 difference[\s\S]*metamcp-app.slice TasksMax: wanted 110, found 5000/);
  });

  it("compares CPU quotas as durations, not spellings", () => {
    const same = parseShowOutput(hostOutput((unit, p) => unit === "metamcp-app.slice" && (p.CPUQuotaPerSecUSec = "2s 200ms")));
    expect(compareWithHost(plan, same).drifts).toEqual([]);
    const lifted = parseShowOutput(hostOutput((unit, p) => unit === "metamcp.slice" && (p.CPUQuotaPerSecUSec = "infinity")));
    expect(compareWithHost(plan, lifted).drifts.map((d) => d.property)).toEqual(["CPUQuotaPerSecUSec"]);
  });

  it("reports a unit file removed, a slice stopped and an edit not yet reloaded", () => {
    const shown = parseShowOutput(
      hostOutput((unit, p) => {
        if (unit === "metamcp.slice") Object.assign(p, { FragmentPath: "", MemoryMax: "infinity", ActiveState: "inactive" });
        else p.NeedDaemonReload = "yes";
      }),
    );
    const found = compareWithHost(plan, shown).drifts.map((d) => `${d.unit} ${d.property}`);
    expect(found).toEqual([
      "metamcp.slice FragmentPath",
      "metamcp.slice ActiveState",
      "metamcp.slice MemoryMax",
      "metamcp-app.slice NeedDaemonReload",
    ]);
  });

  it("reports a unit the host did not answer for", () => {
    const text = hostOutput().split("@unit=metamcp-app.slice")[0] + "@cgroupfs=cgroup2fs\n";
    expect(compareWithHost(plan, parseShowOutput(text)).drifts).toEqual([
      { unit: "metamcp-app.slice", property: "(unit)", wanted: "present", found: "not reported by the host" },
    ]);
  });

  it("reports a kernel value changed behind systemd's back, on v2 and on v1", () => {
    for (const fs of ["cgroup2fs", "tmpfs"]) {
      const shown = parseShowOutput(hostOutput((unit, p) => unit === "metamcp-app.slice" && (p["Kernel.pids"] = "500"), fs));
      expect(compareWithHost(plan, shown).drifts, fs).toEqual([{ unit: "metamcp-app.slice", property: "kernel pids", wanted: "110", found: "500" }]);
    }
    const swapOn = parseShowOutput(hostOutput((unit, p) => unit === "metamcp.slice" && (p["Kernel.swap"] = "max")));
    expect(compareWithHost(plan, swapOn).drifts.map((d) => d.property)).toEqual(["kernel swap"]);
  });

  it("skips kernel files the host did not let it read", () => {
    const shown = parseShowOutput(hostOutput((_unit, p) => { for (const key of Object.keys(p)) if (key.startsWith("Kernel.")) delete p[key]; }));
    expect(compareWithHost(plan, shown).drifts).toEqual([]);
  });

  it("notes a child slice that holds no processes, without calling it drift", () => {
    const report = compareWithHost(plan, parseShowOutput(hostOutput((unit, p) => unit === "metamcp-app.slice" && (p.TasksCurrent = "0"))));
    expect(report.drifts).toEqual([]);
    expect(report.notes).toEqual([expect.stringMatching(/^metamcp-app.slice holds no processes: .*cgroupDriver/)]);
    expect(formatDriftReport("h", report)).toMatch(/match the stack\nnote: metamcp-app.slice holds no processes/);
  });

  it("says what cgroup v1 does not enforce", () => {
    const report = compareWithHost(plan, parseShowOutput(hostOutput(undefined, "tmpfs")));
    expect(report.cgroupVersion).toBe(1);
    expect(report.notes.join()).toMatch(/MemorySwapMax is not/);
  });
});
