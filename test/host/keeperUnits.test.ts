/**
 * The monitor keeper's pure parts: names, unit texts, and the script the service runs, run here
 * against a stand-in `docker` on PATH to check each decision; the create/delete scripts are
 * checked for shape here and run for real in systemdHost.test.ts.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoTempDirsLeft } from "../support/tempDirs";
import {
  keeperApplyScript,
  keeperDeleteScript,
  keeperNames,
  keeperScript,
  serviceUnitText,
  timerUnitText,
  type KeeperSpec,
} from "../../infra/host/keeperUnits";
import { remoteCommand } from "../../infra/host/shell";
import { fakeDockerScript } from "./fakeDocker";

const SPEC: KeeperSpec = { stack: "prod", monitor: "metamcp-prod-monitor", app: "metamcp-prod", intervalSeconds: 10 };

describe("keeper names and units", () => {
  it("are per stack, after the monitor's container name", () => {
    expect(keeperNames(SPEC)).toEqual({
      service: "metamcp-prod-monitor-keeper.service",
      timer: "metamcp-prod-monitor-keeper.timer",
      script: "/usr/local/lib/metamcp-guard/metamcp-prod-monitor-keeper.sh",
    });
    expect(() => keeperNames({ ...SPEC, monitor: "a/b" })).toThrow(/cannot name a systemd unit/);
  });

  it("the service is a oneshot running the script, with no start limit and a timeout", () => {
    const text = serviceUnitText(SPEC);
    expect(text).toContain("\n[Service]\nType=oneshot\nExecStart=/bin/sh /usr/local/lib/metamcp-guard/metamcp-prod-monitor-keeper.sh\n");
    expect(text).toContain("\nStartLimitIntervalSec=0\n");
    expect(text).toContain("\nTimeoutStartSec=60\n");
    expect(text.endsWith("\n")).toBe(true);
  });

  it("the timer fires at once, then every interval, to the second, and is wanted by timers.target", () => {
    const text = timerUnitText({ ...SPEC, intervalSeconds: 7 });
    expect(text).toContain("\n[Timer]\nOnActiveSec=0\nOnUnitActiveSec=7s\nAccuracySec=1s\nUnit=metamcp-prod-monitor-keeper.service\n");
    expect(text).toContain("\n[Install]\nWantedBy=timers.target\n");
  });

  it("escapes specifiers and refuses line breaks", () => {
    expect(serviceUnitText({ ...SPEC, stack: "a%n" })).toContain("Description=metamcp-guard a%%n: ");
    expect(() => timerUnitText({ ...SPEC, stack: "a\nOnActiveSec=1" })).toThrow(/one line/);
  });
});

describe("keeper create and delete scripts", () => {
  const apply = keeperApplyScript(SPEC);
  const del = keeperDeleteScript(SPEC);

  it("are valid sh, also wrapped for sudo", () => {
    for (const script of [apply, del, keeperScript(SPEC), remoteCommand(apply, "deploy")]) {
      expect(() => execFileSync("sh", ["-n", "-c", script])).not.toThrow();
    }
  });

  it("create refuses any of the three files that is not the stack's, before it writes one (issue 12)", () => {
    const checks = [
      "refuse_unless_ours '/usr/local/lib/metamcp-guard/metamcp-prod-monitor-keeper.sh'",
      "refuse_unless_ours '/etc/systemd/system/metamcp-prod-monitor-keeper.service' 'metamcp-prod-monitor-keeper.service'",
      "refuse_unless_ours '/etc/systemd/system/metamcp-prod-monitor-keeper.timer' 'metamcp-prod-monitor-keeper.timer'",
    ].map((needle) => apply.indexOf(needle));
    expect(checks.every((at) => at > 0 && at < apply.indexOf('> "$tmp"'))).toBe(true);
    // Each file it writes starts with the stack's owner line, the script too.
    for (const text of [keeperScript(SPEC), serviceUnitText(SPEC), timerUnitText(SPEC)]) expect(text.split("\n")[0]).toMatch(/^# Written by metamcp-guard \(Pulumi stack prod\)/);
  });

  it("delete leaves every file and unit alone when one of them is not the stack's", () => {
    expect(del.indexOf("! is_ours \"$f\"")).toBeGreaterThan(0);
    expect(del.indexOf("! is_ours \"$f\"")).toBeLessThan(del.indexOf('systemctl disable --now --quiet "$timer"'));
  });

  it("create writes the three files atomically, reloads, enables and restarts the timer, then checks it", () => {
    const order = [
      "mv -f \"$tmp\" \"$target\"",
      "systemctl daemon-reload",
      'systemctl enable --quiet "$timer"',
      'systemctl restart "$timer"',
      'systemctl is-active "$timer"',
    ].map((needle) => apply.indexOf(needle));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]))).toBe(true);
    expect(apply.match(/mv -f "\$tmp" "\$target"/g)).toHaveLength(3);
    for (const path of ["/usr/local/lib/metamcp-guard/metamcp-prod-monitor-keeper.sh", "/etc/systemd/system/metamcp-prod-monitor-keeper.service", "/etc/systemd/system/metamcp-prod-monitor-keeper.timer"]) {
      expect(apply).toContain(`target='${path}'`);
    }
  });

  it("delete disables the timer and removes both units and the script, tolerating what is already gone", () => {
    expect(del).toContain('systemctl disable --now --quiet "$timer" 2>/dev/null || true');
    expect(del).toContain("rm -f '/etc/systemd/system/metamcp-prod-monitor-keeper.timer' '/etc/systemd/system/metamcp-prod-monitor-keeper.service' '/usr/local/lib/metamcp-guard/metamcp-prod-monitor-keeper.sh'");
  });
});

describe("the keeper's script, against a stand-in docker", () => {
  expectNoTempDirsLeft("keeper-");
  // Made when the suite runs, not when it is collected: a skipped or filtered suite runs no afterAll.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "keeper-"));
    writeFileSync(join(dir, "docker"), fakeDockerScript(dir));
    chmodSync(join(dir, "docker"), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Sets the two containers' states (undefined: no such container), runs the script, returns what it did. */
  function runWith(monitor: string | undefined, app: string | undefined, spec = SPEC) {
    for (const [name, state] of [[spec.monitor, monitor], [spec.app, app]] as const) {
      if (state === undefined) rmSync(join(dir, name), { force: true });
      else writeFileSync(join(dir, name), `${state}\n`);
    }
    rmSync(join(dir, "calls"), { force: true });
    const run = spawnSync("sh", ["-c", keeperScript(spec)], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: "utf8" });
    const calls = existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").trim().split("\n") : [];
    return { code: run.status, stdout: run.stdout, stderr: run.stderr, starts: calls.filter((c) => c.startsWith("start ")) };
  }

  it.each(["exited", "created"])("starts a monitor that is %s while MetaMCP runs, and says so", (state) => {
    const result = runWith(state, "running");
    expect(result.starts).toEqual(["start metamcp-prod-monitor"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^metamcp-guard keeper: started metamcp-prod-monitor \(it had stopped while metamcp-prod runs/);
  });

  it.each([
    ["running", "running"],
    ["restarting", "running"],
    ["paused", "running"],
    [undefined, "running"],
    ["exited", "restarting"],
    ["exited", "exited"],
    ["exited", undefined],
  ])("leaves the monitor (%s) alone while MetaMCP is %s, quietly", (monitor, app) => {
    const result = runWith(monitor, app);
    expect(result.starts).toEqual([]);
    expect(result).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });

  it("exits non-zero with Docker's message when the start fails", () => {
    const result = runWith("exited-nostart", "running");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/docker start metamcp-prod-monitor failed: Error response from daemon: cannot join/);
  });

  it("keeps container names literal", () => {
    const odd = { ...SPEC, monitor: "m$(touch x)'q", app: "a;b" };
    expect(keeperScript(odd)).toContain(`monitor='m$(touch x)'\\''q'`);
    expect(runWith("exited", "running", odd).starts).toEqual(["start m$(touch x)'q"]);
    expect(existsSync("x")).toBe(false);
  });
});
