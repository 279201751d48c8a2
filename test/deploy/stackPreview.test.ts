/** scripts/stack-preview.sh (npm run preview / npm run drift), driven against a fake `pulumi` on PATH. */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/stackFiles";
import { expectNoTempDirsLeft } from "../support/tempDirs";
import { FakePulumi } from "./fakePulumi";

let project: string;
let pulumi: FakePulumi;

/** A throwaway project: the script, a policy/ folder, and @pulumi/policy where the pack looks for it. */
let root: string;
expectNoTempDirsLeft("stack-preview-");

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "stack-preview-"));
  project = join(root, "project");
  mkdirSync(join(project, "scripts"), { recursive: true });
  mkdirSync(join(project, "policy"));
  mkdirSync(join(project, "node_modules", "@pulumi", "policy"), { recursive: true });
  writeFileSync(join(project, "node_modules", "@pulumi", "policy", "package.json"), '{"name":"@pulumi/policy","version":"1.21.0"}');
  copyFileSync(join(REPO_ROOT, "scripts", "stack-preview.sh"), join(project, "scripts", "stack-preview.sh"));
  pulumi = new FakePulumi(join(root, "fake"));
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

interface Preview {
  exit?: number;
  output?: string;
  error?: string;
}

function run(args: string[], preview: Preview = {}, env: Record<string, string> = {}, path = `${pulumi.binDir}:${process.env.PATH}`) {
  const clean = { ...process.env };
  delete clean.GITHUB_ACTIONS;
  delete clean.POLICY_PACK_CONFIG;
  return spawnSync("bash", [join(project, "scripts", "stack-preview.sh"), ...args], {
    cwd: tmpdir(),
    env: {
      ...clean,
      PATH: path,
      FAKE_PULUMI_STATE: pulumi.stateDir,
      FAKE_PULUMI_PREVIEW_EXIT: String(preview.exit ?? 0),
      FAKE_PULUMI_PREVIEW_OUTPUT: preview.output ?? "",
      FAKE_PULUMI_PREVIEW_ERROR: preview.error ?? "",
      ...env,
    },
    encoding: "utf8",
  });
}

const OLD_CLI_DRIFT = "error: no changes were expected but changes were proposed\n";

describe("npm run preview -- <stack>", () => {
  it("runs pulumi preview with the diff and the policy pack, from the project root", () => {
    const result = run(["preview", "prod"]);
    expect({ status: result.status, commands: pulumi.commands() }).toEqual({ status: 0, commands: ["preview --diff --stack prod --policy-pack policy"] });
  });

  it("passes extra flags on, and a policy config file", () => {
    run(["preview", "dev", "--show-sames"], {}, { POLICY_PACK_CONFIG: "policy-config.json" });
    expect(pulumi.commands()).toEqual(["preview --diff --stack dev --policy-pack policy --policy-pack-config policy-config.json --show-sames"]);
  });

  it("fails with pulumi's code and says where the violations are", () => {
    const result = run(["preview", "prod"], { exit: 255, error: "mandatory: [prod-images-pinned]\n" });
    expect({ status: result.status, stderr: result.stderr }).toEqual({
      status: 255,
      stderr: expect.stringContaining("pulumi preview of stack prod failed (exit 255); policy violations, if any, are listed above"),
    });
  });
});

describe("npm run drift -- <stack>", () => {
  it("runs the refresh preview that expects no changes, with the policy pack", () => {
    const result = run(["drift", "prod"]);
    expect({ status: result.status, commands: pulumi.commands(), stdout: result.stdout }).toEqual({
      status: 0,
      commands: ["preview --refresh --expect-no-changes --diff --stack prod --policy-pack policy"],
      stdout: expect.stringContaining("stack prod has not drifted"),
    });
  });

  it("turns exit 7 into 'stack X drifted'", () => {
    const result = run(["drift", "prod"], { exit: 7, output: "~ metamcp-pids update [diff: ~limit]\n" });
    expect({ status: result.status, stderr: result.stderr, stdout: result.stdout }).toEqual({
      status: 7,
      stderr: expect.stringContaining("drift: stack prod drifted"),
      stdout: expect.stringContaining("~ metamcp-pids update"),
    });
  });

  it("turns an older CLI's 255 with its drift message into 'stack X drifted', exit 7", () => {
    const result = run(["drift", "dev"], { exit: 255, error: OLD_CLI_DRIFT });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 7, stderr: expect.stringContaining("stack dev drifted") });
  });

  it("does not call another 255 a drift", () => {
    const result = run(["drift", "prod"], { exit: 255, error: "error: failed to decrypt: incorrect passphrase\n" });
    expect({ status: result.status, stderr: result.stderr }).toEqual({
      status: 255,
      stderr: expect.stringContaining("failed (exit 255) before it could tell whether the stack drifted"),
    });
    expect(result.stderr).not.toContain("prod drifted");
  });

  it("annotates the GitHub Actions job with the stack that drifted", () => {
    const result = run(["drift", "prod"], { exit: 7 }, { GITHUB_ACTIONS: "true" });
    expect(result.stdout).toContain("::error title=Stack prod drifted::stack prod drifted");
  });
});

describe("stack-preview.sh refuses clearly", () => {
  it("says how to install pulumi when it is missing", () => {
    const result = run(["drift", "prod"], {}, {}, "/usr/bin:/bin");
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 127, stderr: expect.stringContaining("the pulumi CLI is not on PATH") });
  });

  it("asks for npm ci when the policy pack's dependencies are missing", () => {
    const bare = join(root, "bare");
    mkdirSync(bare);
    mkdirSync(join(bare, "scripts"));
    copyFileSync(join(project, "scripts", "stack-preview.sh"), join(bare, "scripts", "stack-preview.sh"));
    project = bare;
    const result = run(["preview", "dev"]);
    expect({ status: result.status, stderr: result.stderr, calls: pulumi.commands() }).toEqual({
      status: 1,
      stderr: expect.stringContaining("run npm ci"),
      calls: [],
    });
  });

  it.each([[[]], [["drift"]], [["drift", "--diff"]], [["up", "prod"]]])("prints usage for %j", (args) => {
    const result = run(args);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 2, stderr: expect.stringContaining("usage: npm run preview -- <stack>") });
  });
});

describe("the npm scripts", () => {
  it("wire npm run preview and npm run drift to the script", () => {
    const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts;
    expect({ preview: scripts.preview, drift: scripts.drift }).toEqual({
      preview: "bash scripts/stack-preview.sh preview",
      drift: "bash scripts/stack-preview.sh drift",
    });
  });

  it("npm run drift -- prod reaches pulumi with the stack", () => {
    const result = spawnSync("npm", ["run", "--silent", "drift", "--", "prod"], {
      cwd: REPO_ROOT,
      env: { ...process.env, PATH: `${pulumi.binDir}:${process.env.PATH}`, FAKE_PULUMI_STATE: pulumi.stateDir, FAKE_PULUMI_PREVIEW_EXIT: "7" },
      encoding: "utf8",
    });
    expect({ status: result.status, commands: pulumi.commands() }).toEqual({
      status: 7,
      commands: ["preview --refresh --expect-no-changes --diff --stack prod --policy-pack policy"],
    });
  });
});

describe("stack-preview.sh --help", () => {
  it.each(["preview", "drift"])("%s --help prints its usage and runs nothing", (mode) => {
    const result = run([mode, "--help"]);
    expect({ status: result.status, usage: result.stdout.startsWith("usage: npm run preview"), calls: pulumi.commands() }).toEqual({
      status: 0,
      usage: true,
      calls: [],
    });
  });
});
