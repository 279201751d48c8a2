/**
 * The users' workflow (.github/workflows/pulumi.yml), parsed: the triggers, jobs, inputs and
 * secrets docs/policy-and-ci.md promises are there, and every file, script and stack it names
 * exists, so the workflow cannot rot silently while nothing runs it here. Where its secrets may
 * go is scoping.test.ts's.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readStackConfig } from "../../infra/verify/stackFile";
import { REPO_ROOT } from "../support/stackFiles";
import { environmentOf, type Job, type Step, stacksOf, type Workflow } from "./support/scoping";


const WORKFLOW_FILE = join(REPO_ROOT, ".github", "workflows", "pulumi.yml");
const SSH_ACTION_DIR = join(REPO_ROOT, ".github", "actions", "docker-host-ssh");
const workflow = parse(readFileSync(WORKFLOW_FILE, "utf8")) as Workflow;
const packageScripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts as Record<string, string>;

function job(name: string): Job {
  const found = workflow.jobs[name];
  if (!found) throw new Error(`no job ${name}; have ${Object.keys(workflow.jobs).join(", ")}`);
  return found;
}

/** Index of the first step matching, or -1. */
function stepIndex(j: Job, match: (s: Step) => boolean): number {
  return j.steps.findIndex(match);
}
const isPulumiAction = (s: Step) => /^pulumi\/actions@v\d+$/.test(s.uses ?? "");
const runs = (command: string) => (s: Step) => (s.run ?? "").split("\n").some((line) => line.trim() === command);
const isSshSetup = (s: Step) => s.uses === "./.github/actions/docker-host-ssh";

function pulumiStep(j: Job): Step {
  const steps = j.steps.filter((s) => isPulumiAction(s) && s.with?.command);
  expect(steps).toHaveLength(1);
  return steps[0];
}

/** The steps a job needs before it can run pulumi: dependencies installed, then SSH to the hosts. */
function expectReadyBefore(j: Job, pulumiAt: number) {
  const npmCi = stepIndex(j, runs("npm ci"));
  const ssh = stepIndex(j, isSshSetup);
  expect({ npmCi: npmCi >= 0 && npmCi < pulumiAt, ssh: ssh >= 0 && ssh < pulumiAt }).toEqual({ npmCi: true, ssh: true });
}

describe("triggers", () => {
  it("runs on pull requests, pushes to main, a schedule and by hand", () => {
    expect({
      pullRequest: "pull_request" in workflow.on,
      pushBranches: workflow.on.push?.branches,
      cron: workflow.on.schedule?.[0]?.cron,
      manual: "workflow_dispatch" in workflow.on,
    }).toEqual({ pullRequest: true, pushBranches: ["main"], cron: expect.stringMatching(/^\S+ \S+ \S+ \S+ \S+$/), manual: true });
  });
});

describe("on pull requests", () => {
  it("test: npm ci, then npm test, on pull requests and pushes", () => {
    const test = job("test");
    expect(test.if).toContain("pull_request");
    expect(test.if).toContain("push");
    const ci = stepIndex(test, runs("npm ci"));
    expect({ ci: ci >= 0, testAfterCi: stepIndex(test, runs("npm test")) > ci }).toEqual({ ci: true, testAfterCi: true });
  });

  it("preview dev: after the tests, pulumi preview --diff of dev with the policy pack, in dev's environment", () => {
    const preview = job("preview-dev");
    expect({ if: preview.if, needs: [preview.needs].flat(), environment: environmentOf(preview) }).toEqual({
      if: "github.event_name == 'pull_request'",
      needs: ["test"],
      environment: "dev",
    });
    const step = pulumiStep(preview);
    expect(step.with).toMatchObject({ command: "preview", "stack-name": "dev", diff: true, policyPacks: "policy" });
    expectReadyBefore(preview, preview.steps.indexOf(step));
  });

  it("no job previews prod on pull requests (its config is held to the pack by npm test, without secrets)", () => {
    const onPullRequests = Object.entries(workflow.jobs).filter(([, j]) => (j.if ?? "").includes("pull_request"));
    expect(onPullRequests.flatMap(([, j]) => j.steps.map((s) => s.with?.["stack-name"]).filter(Boolean))).toEqual(["dev"]);
  });

  it("preview may comment on the pull request", () => {
    expect(job("preview-dev").permissions?.["pull-requests"]).toBe("write");
  });
});

describe("on a schedule", () => {
  it.each([
    ["drift-dev", "dev", "dev"],
    ["drift-prod", "prod", "production"],
  ])("%s: from main, on the schedule or by hand, runs npm run drift -- %s with the CLI installed first, in %s's environment", (id, stack, environment) => {
    const drift = job(id);
    expect({ if: drift.if, environment: environmentOf(drift) }).toEqual({
      if: "github.ref == 'refs/heads/main' && (github.event_name == 'schedule' || github.event_name == 'workflow_dispatch')",
      environment,
    });
    const check = stepIndex(drift, runs('npm run drift -- "$STACK"'));
    const install = stepIndex(drift, (s) => isPulumiAction(s) && !s.with?.command);
    expect({ check: check >= 0, installedBefore: install >= 0 && install < check, stack: drift.steps[check]?.env?.STACK }).toEqual({
      check: true,
      installedBefore: true,
      stack,
    });
    expectReadyBefore(drift, check);
  });

  it("the drift step's script is what npm run drift runs: the refresh preview that expects no changes", () => {
    const script = readFileSync(join(REPO_ROOT, packageScripts.drift.split(" ")[1]), "utf8");
    expect(script).toContain('pulumi preview --refresh --expect-no-changes --diff --stack "$stack" "${policy[@]}"');
  });
});

describe("on main", () => {
  it("deploy-dev: pulumi up for dev with the policy pack, after the tests, on pushes to main, in dev's environment", () => {
    const dev = job("deploy-dev");
    expect({ if: dev.if, needs: [dev.needs].flat(), environment: environmentOf(dev) }).toEqual({
      if: "github.event_name == 'push' && github.ref == 'refs/heads/main'",
      needs: ["test"],
      environment: "dev",
    });
    const step = pulumiStep(dev);
    expect(step.with).toMatchObject({ command: "up", "stack-name": "dev", policyPacks: "policy" });
    expectReadyBefore(dev, dev.steps.indexOf(step));
  });

  it("deploy-prod: pulumi up for prod after dev, behind the production environment's approval", () => {
    const prod = job("deploy-prod");
    expect({ if: prod.if, needs: [prod.needs].flat(), environment: environmentOf(prod) }).toEqual({
      if: "github.event_name == 'push' && github.ref == 'refs/heads/main'",
      needs: ["deploy-dev"],
      environment: "production",
    });
    const step = pulumiStep(prod);
    expect(step.with).toMatchObject({ command: "up", "stack-name": "prod", policyPacks: "policy" });
    expectReadyBefore(prod, prod.steps.indexOf(step));
  });

  it("never runs two deploys of one stack at once", () => {
    expect([job("deploy-dev"), job("deploy-prod")].map((j) => j.concurrency?.["cancel-in-progress"])).toEqual([
      false,
      false,
    ]);
  });
});

describe("secrets", () => {
  /** Each job's Pulumi login, passphrase and SSH key, from its own environment's secrets. */
  const PREFIX: Record<string, string> = { dev: "DEV_", production: "PROD_" };

  it("every job but the tests gets its login, passphrase and Docker host key from its environment's store, and the host's pin from its stack", () => {
    for (const [name, j] of Object.entries(workflow.jobs).filter(([n]) => n !== "test")) {
      const prefix = PREFIX[environmentOf(j) ?? ""];
      const pulumi = j.steps.find((s) => isPulumiAction(s) && s.with?.command) ?? j.steps.find(runs('npm run drift -- "$STACK"'));
      const stack = pulumi?.with?.["stack-name"] ?? pulumi?.env?.STACK;
      expect({ name, ssh: j.steps.find(isSshSetup)?.with, login: pulumi?.env }).toEqual({
        name,
        // The host key is the stack file's host.ssh.hostKey, not a secret: one pin for the program and CI.
        ssh: { "private-key": `\${{ secrets.${prefix}DOCKER_HOST_SSH_KEY }}`, stack },
        login: expect.objectContaining({
          PULUMI_ACCESS_TOKEN: `\${{ secrets.${prefix}PULUMI_ACCESS_TOKEN }}`,
          PULUMI_BACKEND_URL: `\${{ secrets.${prefix}PULUMI_BACKEND_URL }}`,
          PULUMI_CONFIG_PASSPHRASE: `\${{ secrets.${prefix}PULUMI_CONFIG_PASSPHRASE }}`,
        }),
      });
    }
  });

  it("the tests get none", () => {
    expect(JSON.stringify(job("test"))).not.toContain("secrets.");
  });

  it("are never written into the workflow", () => {
    const text = readFileSync(WORKFLOW_FILE, "utf8");
    expect(text).not.toMatch(/PRIVATE KEY|pul-[0-9a-f]{20,}/);
  });
});

describe("what the workflow names exists", () => {
  it("the policy pack, the scripts, the local action and a stack file per matrix stack", () => {
    const stacks = new Set(Object.values(workflow.jobs).flatMap((j) => stacksOf(j)));
    const paths = [
      "policy/PulumiPolicy.yaml",
      "policy/package.json",
      "scripts/start-docker.sh",
      ".github/actions/docker-host-ssh/action.yml",
      ...[...stacks].map((s) => `Pulumi.${s}.yaml`),
    ];
    expect(paths.filter((p) => !existsSync(join(REPO_ROOT, p)))).toEqual([]);
    expect({ test: packageScripts.test !== undefined, drift: packageScripts.drift !== undefined }).toEqual({ test: true, drift: true });
  });
});

describe("the docker-host-ssh action", () => {
  const action = parse(readFileSync(join(SSH_ACTION_DIR, "action.yml"), "utf8")) as {
    inputs: Record<string, unknown>;
    runs: { using: string; steps: { run: string }[] };
  };

  // Every HOME the action ran with, removed once the suite is done.
  const homes: string[] = [];
  afterAll(() => {
    for (const home of homes) rmSync(home, { recursive: true, force: true });
  });

  function runAction(env: Record<string, string>) {
    const home = mkdtempSync(join(tmpdir(), "ssh-action-"));
    homes.push(home);
    const githubEnv = join(home, "github-env");
    writeFileSync(githubEnv, "");
    // From the checkout's root, as a job's steps run.
    const result = spawnSync("bash", ["-c", action.runs.steps[0].run], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: home, GITHUB_ENV: githubEnv, ...env }, encoding: "utf8" });
    const exported = Object.fromEntries(
      readFileSync(githubEnv, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split("=", 2) as [string, string]),
    );
    return { result, home, exported };
  }

  it("is a composite action with the two inputs the workflow passes", () => {
    expect({ using: action.runs.using, inputs: Object.keys(action.inputs).sort() }).toEqual({ using: "composite", inputs: ["private-key", "stack"] });
  });

  it("loads the key into an agent later steps find, and pins the stack file's host key (issue 12: the same pin as the program)", () => {
    const dir = mkdtempSync(join(tmpdir(), "ssh-key-"));
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
    const { result, home, exported } = runAction({ PRIVATE_KEY: readFileSync(join(dir, "id"), "utf8"), STACK: "prod" });
    try {
      const listed = spawnSync("ssh-add", ["-l"], { env: { PATH: process.env.PATH, SSH_AUTH_SOCK: exported.SSH_AUTH_SOCK }, encoding: "utf8" });
      const pin = readStackConfig("prod", { projectDir: REPO_ROOT }).host.ssh!.hostKey!;
      expect({ status: result.status, keys: listed.stdout.split("\n").filter(Boolean).length, knownHosts: readFileSync(join(home, ".ssh", "known_hosts"), "utf8") }).toEqual({
        status: 0,
        keys: 1,
        knownHosts: `metamcp.example.internal ${pin}\n`,
      });
    } finally {
      // The agent this test started, by its pid.
      if (exported.SSH_AGENT_PID) process.kill(Number(exported.SSH_AGENT_PID));
      rmSync(dir, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("refuses a key for a stack that reaches no host over SSH", () => {
    const { result, exported, home } = runAction({ PRIVATE_KEY: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----", STACK: "dev" });
    rmSync(home, { recursive: true, force: true });
    expect({ status: result.status, stdout: result.stdout, exported }).toEqual({ status: 1, stdout: expect.stringContaining("stack dev reaches no host over SSH"), exported: {} });
  });

  it("the pin's source refuses a stack that uses SSH without host.ssh.hostKey, saying how to get it", () => {
    const dir = mkdtempSync(join(tmpdir(), "known-hosts-"));
    try {
      const file = join(dir, "Pulumi.nopin.yaml");
      writeFileSync(file, 'config:\n  metamcp-guard:dockerHost: ssh://deploy@h.example\n  metamcp-guard:app:\n    limits: { cpus: 1 }\n');
      const result = spawnSync(join(REPO_ROOT, "node_modules", ".bin", "ts-node"), ["--transpile-only", "scripts/known-hosts.ts", "nopin", "--stack-file", file], { cwd: REPO_ROOT, encoding: "utf8" });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 1, stderr: expect.stringMatching(/host.ssh is required when dockerHost is ssh:\/\/deploy@h.example: .*ssh-keyscan -t ed25519 h.example/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does nothing without a key (a dev stack on a local socket)", () => {
    const { result, exported } = runAction({ PRIVATE_KEY: "", STACK: "dev" });
    expect({ status: result.status, exported }).toEqual({ status: 0, exported: {} });
  });
});
