import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planSlices, type SliceSpec } from "../../infra/host/plan";
import { applyScript, deleteScript, showScript } from "../../infra/host/scripts";
import { remoteCommand, shellQuote } from "../../infra/host/shell";
import { expectedShow, unitText } from "../../infra/host/unitFile";
import { sliceSettings } from "./fixtures";

const app = planSlices(sliceSettings()).children.app!;
const NASTY = [`it's`, `"double" $HOME $(touch /tmp/pwned) \`id\``, "back\\slash", "semi; rm -rf /tmp/x #", "tab\there", ""];

function sh(script: string, ...args: string[]): string {
  return execFileSync("sh", ["-c", script, "sh", ...args], { encoding: "utf8" });
}

describe("unit text", () => {
  it("is a [Slice] with the limits, swap off and a description", () => {
    expect(unitText(app, "prod")).toBe(
      [
        "# Written by metamcp-guard (Pulumi stack prod); `npm run verify-host -- prod` reports edits.",
        "[Unit]",
        "Description=metamcp-guard prod: app container limits",
        "",
        "[Slice]",
        "MemoryAccounting=yes",
        `MemoryMax=${4506 * 1024 * 1024}`,
        "MemorySwapMax=0",
        "TasksAccounting=yes",
        "TasksMax=110",
        "CPUQuota=220%",
        "",
      ].join("\n"),
    );
  });

  it("escapes systemd specifiers and refuses line breaks in values", () => {
    const spec: SliceSpec = { ...app, description: "100% of %n" };
    expect(unitText(spec, "prod")).toContain("Description=100%% of %%n\n");
    expect(() => unitText({ ...app, description: "a\nMemoryMax=infinity" }, "prod")).toThrow(/one line/);
    expect(() => unitText(app, "pro\nd")).toThrow(/one line/);
  });

  it("expects the values systemctl show prints", () => {
    expect(expectedShow(app)).toEqual({
      MemoryMax: String(4506 * 1024 * 1024),
      MemorySwapMax: "0",
      TasksMax: "110",
      CPUQuotaPerSecUSec: "2.200000s",
    });
  });
});

describe("shell quoting", () => {
  it.each(NASTY)("passes %j through sh as one unchanged word", (value) => {
    expect(sh(`printf '%s' ${shellQuote(value)}`)).toBe(value);
  });

  it("runs a script under sh -c exactly as written, for root and under sudo -n for others", () => {
    const script = `printf '%s|' "it's" '$HOME' "\\\`x\\\`"`;
    expect(sh(remoteCommand(script, "root"))).toBe("it's|$HOME|`x`|");
    const wrapped = remoteCommand(script, "deploy");
    expect(wrapped).toMatch(/^if sudo -n true 2>\/dev\/null; then sudo -n sh -c '/);
    expect(wrapped).toContain("cannot run sudo without a password");
  });
});

describe("scripts", () => {
  const apply = applyScript(app, "prod");

  it("are valid sh", () => {
    const parentApply = applyScript(planSlices(sliceSettings()).parent, "prod");
    for (const script of [apply, parentApply, deleteScript(app.unit, "prod"), showScript(["a.slice", "b.slice"]), remoteCommand(apply, "deploy")]) {
      expect(() => execFileSync("sh", ["-n", "-c", script])).not.toThrow();
    }
  });

  it("write the unit through a temp file renamed into place, then reload and start (never restart)", () => {
    const write = apply.indexOf('> "$tmp"');
    const rename = apply.indexOf('mv -f "$tmp" "$target"');
    const reload = apply.indexOf("systemctl daemon-reload");
    const start = apply.indexOf('systemctl start "$unit"');
    expect(write).toBeGreaterThan(0);
    expect(rename).toBeGreaterThan(write);
    expect(reload).toBeGreaterThan(rename);
    expect(start).toBeGreaterThan(reload);
    expect(apply).not.toMatch(/restart/);
    // The temp file sits next to the unit, so the rename is atomic.
    expect(sh(`${apply.split("\n").filter((l) => /^(target|tmp)=/.test(l)).join("\n")}\necho "$tmp"`)).toMatch(/^\/etc\/systemd\/system\/\.metamcp-app\.slice\.metamcp-guard\.\d+\n$/);
  });

  it("refuse a unit file that is not the stack's before writing anything (issue 12)", () => {
    const refuse = apply.indexOf('refuse_unless_ours "$dir/$unit" "$unit"');
    expect(refuse).toBeGreaterThan(apply.indexOf("refuse_unless_ours() {"));
    expect(refuse).toBeLessThan(apply.indexOf('> "$tmp"'));
    expect(unitText(app, "prod").split("\n")[0]).toMatch(/^# Written by metamcp-guard \(Pulumi stack prod\); /);
  });

  it("only the parent checks for other stacks' slices above and below it, and releases an older parent of its own, before the reload", () => {
    const parentApply = applyScript(planSlices(sliceSettings()).parent, "prod");
    const guard = parentApply.indexOf('for f in "$dir/$stem"-*.slice; do');
    const write = parentApply.indexOf('> "$tmp"');
    const release = parentApply.indexOf("\nrelease_older_parents\n");
    expect({ guard: guard > 0 && guard < write, release: release > write && release < parentApply.indexOf("\nsystemctl daemon-reload\n") }).toEqual({ guard: true, release: true });
    expect(apply).not.toContain("release_older_parents");
    expect(apply).not.toContain('for f in "$dir/$stem"-*.slice; do');
  });

  it("carry the exact unit text, line by line, quoted", () => {
    const printf = apply.split("\n").find((line) => line.startsWith("printf '%s\\n' "))!;
    // Run the printf itself (into stdout instead of the temp file) to see what lands on disk.
    expect(sh(printf.replace(/ > "\$tmp"$/, ""))).toBe(unitText(app, "prod"));
  });

  it("read back every limit and fail when one differs", () => {
    for (const [property, value] of Object.entries(expectedShow(app))) {
      expect(apply).toContain(`check ${property} ${shellQuote(value)}`);
    }
    expect(apply).toMatch(/its limits are not in force[\s\S]*exit 1/);
  });

  it("compare the kernel's own files too, for cgroup v2 and v1", () => {
    expect(apply).toContain(`kcheck "/sys/fs/cgroup$cg/memory.max" '${4506 * 1024 * 1024}'`);
    expect(apply).toContain(`kcheck "/sys/fs/cgroup$cg/memory.swap.max" '0'`);
    expect(apply).toContain(`kcheck "/sys/fs/cgroup$cg/pids.max" '110'`);
    expect(apply).toContain(`kcheck "/sys/fs/cgroup$cg/cpu.max" '220000 100000'`);
    expect(apply).toContain(`kcheck "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes" '${4506 * 1024 * 1024}'`);
    expect(apply).toContain(`kcheck "/sys/fs/cgroup/pids$cg/pids.max" '110'`);
    expect(apply).toContain(`kcheck "/sys/fs/cgroup/cpu$cg/cpu.cfs_quota_us" '220000'`);
    // The check itself, run against files standing in for the kernel's.
    const kcheck = apply.slice(apply.indexOf("kcheck() {"), apply.indexOf("\n}\n", apply.indexOf("kcheck() {")) + 2);
    const dir = mkdtempSync(join(tmpdir(), "kcheck-"));
    try {
      writeFileSync(join(dir, "pids.max"), "500\n");
      const run = (file: string) => execFileSync("sh", ["-c", `unit=u.slice; bad=0; ${kcheck}\nkcheck "$1" 9 2>&1; echo "bad=$bad"`, "sh", file], { encoding: "utf8" });
      expect(run(join(dir, "pids.max"))).toBe(`metamcp-guard: u.slice: kernel ${join(dir, "pids.max")} is '500', wanted '9'\nbad=1\n`);
      writeFileSync(join(dir, "pids.max"), "9\n");
      expect(run(join(dir, "pids.max"))).toBe("bad=0\n");
      expect(run(join(dir, "missing"))).toMatch(/note: cannot read .*missing; kernel value not checked\nbad=0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The verdict comes after every check.
    expect(apply.lastIndexOf("kcheck ")).toBeLessThan(apply.indexOf('if [ "$bad" -ne 0 ]'));
  });

  it("carry values from data only as quoted words", () => {
    const spec: SliceSpec = { ...app, unit: "metamcp-app.slice", description: NASTY[1] };
    const script = applyScript(spec, "prod");
    expect(script).toContain(shellQuote(`Description=${NASTY[1]}`));
    expect(script).toContain(`unit='metamcp-app.slice'`);
  });

  it("delete stops and removes only an empty slice, and only one the stack wrote", () => {
    const del = deleteScript("metamcp-app.slice", "prod");
    expect(del).toContain("unit='metamcp-app.slice'");
    const ours = del.indexOf('if ! is_ours "$dir/$unit"; then');
    const guard = del.indexOf('if [ "$tasks" -gt 0 ]');
    expect(ours).toBeGreaterThan(0);
    expect(guard).toBeGreaterThan(ours);
    expect(del.indexOf('systemctl stop "$unit"')).toBeGreaterThan(guard);
    expect(del.indexOf('rm -f "$dir/$unit"')).toBeGreaterThan(guard);
    expect(del).toContain("systemctl daemon-reload");
  });
});
