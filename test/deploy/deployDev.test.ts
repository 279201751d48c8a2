/** scripts/deploy-dev.sh, driven against a fake `pulumi` on PATH. */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/stackFiles";
import { expectNoTempDirsLeft } from "../support/tempDirs";
import { FakePulumi } from "./fakePulumi";

let project: string;
let pulumi: FakePulumi;

/** A throwaway copy of the project with the script and an (empty) node_modules. */
let root: string;
expectNoTempDirsLeft("deploy-dev-");

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "deploy-dev-"));
  project = join(root, "project");
  mkdirSync(join(project, "scripts"), { recursive: true });
  mkdirSync(join(project, "node_modules"));
  copyFileSync(join(REPO_ROOT, "scripts", "deploy-dev.sh"), join(project, "scripts", "deploy-dev.sh"));
  pulumi = new FakePulumi(join(root, "fake"));
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

function deploy(env: Record<string, string> = {}, args: string[] = [], path = `${pulumi.binDir}:${process.env.PATH}`) {
  const clean = { ...process.env };
  delete clean.PULUMI_BACKEND_URL;
  delete clean.PULUMI_CONFIG_PASSPHRASE;
  delete clean.PULUMI_CONFIG_PASSPHRASE_FILE;
  return spawnSync("bash", [join(project, "scripts", "deploy-dev.sh"), ...args], {
    env: { ...clean, PATH: path, FAKE_PULUMI_STATE: pulumi.stateDir, ...env },
    encoding: "utf8",
  });
}

describe("deploy-dev.sh on a fresh machine", () => {
  it("succeeds", () => {
    const run = deploy();
    expect(run.status, run.stderr).toBe(0);
  });

  it("uses a local state backend in the project's .pulumi/", () => {
    deploy();
    const up = pulumi.calls().find((c) => c.argv[0] === "up")!;
    expect(up.env.PULUMI_BACKEND_URL).toBe(`file://${project}/.pulumi`);
  });

  it("creates a private passphrase file for the local backend's secrets", () => {
    deploy();
    const file = join(project, ".pulumi", "dev-passphrase");
    expect({ mode: statSync(file).mode & 0o777, length: readFileSync(file, "utf8").length }).toEqual({ mode: 0o600, length: 48 });
  });

  it("creates the dev stack", () => {
    deploy();
    expect(pulumi.commands()).toContain("stack init dev");
  });

  it("generates random secrets through stdin, never on the command line", () => {
    deploy();
    const sets = pulumi.calls().filter((c) => c.argv[0] === "config" && c.argv[1] === "set");
    expect(sets.map((c) => [c.argv.join(" "), /^[0-9a-f]+$/.test(c.stdin) ? c.stdin.length : c.stdin])).toEqual([
      ["config set --secret authSecret --stack dev", 64],
      ["config set --secret postgresPassword --stack dev", 48],
    ]);
  });

  it("runs pulumi up last, passing extra arguments on", () => {
    deploy({}, ["--yes"]);
    expect(pulumi.commands().at(-1)).toBe("up --stack dev --yes");
  });
});

describe("deploy-dev.sh respects what the user already has", () => {
  it("keeps a backend chosen with PULUMI_BACKEND_URL", () => {
    deploy({ PULUMI_BACKEND_URL: "s3://team-state" });
    const up = pulumi.calls().find((c) => c.argv[0] === "up")!;
    expect(up.env).toEqual({ PULUMI_BACKEND_URL: "s3://team-state" });
  });

  it("keeps the backend of a logged-in CLI", () => {
    deploy({ FAKE_PULUMI_WHOAMI_EXIT: "0" });
    expect(existsSync(join(project, ".pulumi"))).toBe(false);
  });

  it("does not re-create an existing stack", () => {
    pulumi.seed("stack-dev");
    deploy();
    expect(pulumi.commands().filter((c) => c.startsWith("stack init"))).toEqual([]);
  });

  it("does not overwrite secrets that are set", () => {
    pulumi.seed("config-authSecret");
    pulumi.seed("config-postgresPassword");
    deploy();
    expect(pulumi.commands().filter((c) => c.startsWith("config set"))).toEqual([]);
  });

  it("says how to install pulumi when it is missing", () => {
    const run = deploy({}, [], "/usr/bin:/bin");
    expect({ status: run.status, message: run.stderr }).toEqual({
      status: 127,
      message: expect.stringContaining("the pulumi CLI is not on PATH"),
    });
  });
});

describe("deploy-dev.sh --help", () => {
  it("prints its usage and runs nothing", () => {
    const result = deploy({}, ["--help"]);
    expect({ status: result.status, usage: result.stdout.startsWith("usage: npm run deploy:dev"), calls: pulumi.commands() }).toEqual({
      status: 0,
      usage: true,
      calls: [],
    });
  });
});
