/**
 * Where the workflow's secrets may go (test/workflows/support/scoping.ts): the real workflow keeps
 * every rule; the workflow as it was before issue 12 (fixtures/before-issue-12.yml, kept verbatim)
 * breaks each of the rules it broke; and each rule fails the real workflow with one thing changed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "../support/stackFiles";
import {
  noPrivilegedTriggers,
  noWorkflowLevelSecrets,
  productionOnlyBehindItsEnvironment,
  runsOnlyMainCode,
  scopingProblems,
  secretsIn,
  secretsLiveInTheirEnvironment,
  secretsOnlyWhereUsed,
  stacksOf,
  topLevelTerms,
  type Workflow,
} from "./support/scoping";

const read = (path: string) => parse(readFileSync(path, "utf8")) as Workflow;
const current = () => read(join(REPO_ROOT, ".github", "workflows", "pulumi.yml"));
const before = read(join(__dirname, "fixtures", "before-issue-12.yml"));

describe("the workflow", () => {
  it("keeps every scoping rule", () => {
    expect(scopingProblems(current())).toEqual([]);
  });

  it("gives pull requests dev's environment only, and prod's secrets to main's code in production only", () => {
    const jobs = Object.entries(current().jobs).map(([id, job]) => ({ id, environment: job.environment ?? null, mainOnly: runsOnlyMainCode(job), secrets: secretsIn(job).length > 0 }));
    expect(jobs).toEqual([
      { id: "test", environment: null, mainOnly: false, secrets: false },
      { id: "preview-dev", environment: "dev", mainOnly: false, secrets: true },
      { id: "drift-dev", environment: "dev", mainOnly: true, secrets: true },
      { id: "drift-prod", environment: "production", mainOnly: true, secrets: true },
      { id: "deploy-dev", environment: "dev", mainOnly: true, secrets: true },
      { id: "deploy-prod", environment: "production", mainOnly: true, secrets: true },
    ]);
  });
});

describe("the workflow before issue 12 fails each rule it broke", () => {
  it("secrets at the workflow level", () => {
    expect(noWorkflowLevelSecrets(before)).toEqual([
      expect.stringContaining("secret PULUMI_ACCESS_TOKEN is set for the whole workflow"),
      expect.stringContaining("secret PULUMI_BACKEND_URL is set for the whole workflow"),
      expect.stringContaining("secret PULUMI_CONFIG_PASSPHRASE is set for the whole workflow"),
    ]);
  });

  it("secrets from the repository store, in jobs without an environment", () => {
    expect(secretsLiveInTheirEnvironment(before)).toEqual(
      expect.arrayContaining([
        expect.stringContaining("job preview uses secret DOCKER_HOST_SSH_KEY, which names no environment"),
        expect.stringContaining("job deploy-prod uses secret DOCKER_HOST_SSH_KEY, which names no environment"),
      ]),
    );
  });

  it("the prod stack and the deploy key in the pull-request preview, and production reachable from branch code", () => {
    expect(productionOnlyBehindItsEnvironment(before)).toEqual([
      "job preview works on stack prod outside the production environment",
      "job preview gets stack prod but can run branch code: its if does not require github.ref == 'refs/heads/main'",
      "job drift works on stack prod outside the production environment",
      "job drift gets stack prod but can run branch code: its if does not require github.ref == 'refs/heads/main'",
      "job deploy-prod gets stack prod but can run branch code: its if does not require github.ref == 'refs/heads/main'",
    ]);
  });

  it("the token and passphrase in the steps that install and test the branch", () => {
    expect(secretsOnlyWhereUsed(before)).toEqual(
      expect.arrayContaining([
        "job test step 3 (npm ci) sees PULUMI_ACCESS_TOKEN, PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE: installing or testing code needs no secret",
        "job test step 5 (npm test) sees PULUMI_ACCESS_TOKEN, PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE: installing or testing code needs no secret",
      ]),
    );
  });
});

/** The real workflow with one change. */
function changed(edit: (workflow: Workflow) => void): Workflow {
  const workflow = current();
  edit(workflow);
  return workflow;
}

describe("each rule fails the workflow with one thing changed", () => {
  it("a secret at the workflow level", () => {
    const workflow = changed((w) => (w.env = { PULUMI_ACCESS_TOKEN: "${{ secrets.PROD_PULUMI_ACCESS_TOKEN }}" }));
    expect(noWorkflowLevelSecrets(workflow)).toEqual([expect.stringContaining("secret PROD_PULUMI_ACCESS_TOKEN is set for the whole workflow")]);
  });

  it("a secret named for no environment", () => {
    const workflow = changed((w) => (w.jobs["deploy-dev"].steps.at(-1)!.env!.PULUMI_ACCESS_TOKEN = "${{ secrets.PULUMI_ACCESS_TOKEN }}"));
    expect(secretsLiveInTheirEnvironment(workflow)).toEqual([expect.stringContaining("job deploy-dev uses secret PULUMI_ACCESS_TOKEN, which names no environment")]);
  });

  it("a prod secret in the pull-request preview (dev's environment)", () => {
    const workflow = changed((w) => (w.jobs["preview-dev"].steps.at(-1)!.env!.PULUMI_CONFIG_PASSPHRASE = "${{ secrets.PROD_PULUMI_CONFIG_PASSPHRASE }}"));
    expect(scopingProblems(workflow)).toEqual([
      "job preview-dev uses secret PROD_PULUMI_CONFIG_PASSPHRASE outside the production environment (it has dev)",
      "job preview-dev gets PROD_PULUMI_CONFIG_PASSPHRASE but can run branch code: its if does not require github.ref == 'refs/heads/main'",
    ]);
  });

  it("the prod deploy key in the pull-request preview", () => {
    const workflow = changed((w) => (w.jobs["preview-dev"].steps.find((s) => s.uses?.includes("docker-host-ssh"))!.with!["private-key"] = "${{ secrets.PROD_DOCKER_HOST_SSH_KEY }}"));
    expect(productionOnlyBehindItsEnvironment(workflow)).toEqual([expect.stringContaining("job preview-dev gets PROD_DOCKER_HOST_SSH_KEY but can run branch code")]);
  });

  it("the pull-request preview moved into production (its approval would be asked of every PR, its secrets handed to the branch)", () => {
    const workflow = changed((w) => (w.jobs["preview-dev"].environment = "production"));
    expect(productionOnlyBehindItsEnvironment(workflow)).toEqual([expect.stringContaining("job preview-dev gets the production environment but can run branch code")]);
  });

  it("the prod stack previewed outside production", () => {
    const workflow = changed((w) => (w.jobs["preview-dev"].steps.at(-1)!.with!["stack-name"] = "prod"));
    expect(productionOnlyBehindItsEnvironment(workflow)).toEqual([
      "job preview-dev works on stack prod outside the production environment",
      "job preview-dev gets stack prod but can run branch code: its if does not require github.ref == 'refs/heads/main'",
    ]);
  });

  it("a prod job whose main guard is only one side of an or", () => {
    const workflow = changed((w) => (w.jobs["drift-prod"].if = "github.ref == 'refs/heads/main' || github.event_name == 'workflow_dispatch'"));
    expect(productionOnlyBehindItsEnvironment(workflow)).toEqual([expect.stringContaining("job drift-prod gets PROD_")]);
  });

  it("a secret in a job's env, which its npm ci then sees", () => {
    const workflow = changed((w) => (w.jobs["deploy-dev"].env = { PULUMI_ACCESS_TOKEN: "${{ secrets.DEV_PULUMI_ACCESS_TOKEN }}" }));
    expect(secretsOnlyWhereUsed(workflow)).toEqual([
      "job deploy-dev sets secret DEV_PULUMI_ACCESS_TOKEN for all its steps (env); give it to the step that uses it",
      "job deploy-dev step 3 (npm ci) sees DEV_PULUMI_ACCESS_TOKEN: installing or testing code needs no secret",
    ]);
  });

  it("the deploy key loaded before npm ci", () => {
    const workflow = changed((w) => {
      const steps = w.jobs["deploy-prod"].steps;
      const ssh = steps.findIndex((s) => s.uses?.includes("docker-host-ssh"));
      steps.splice(2, 0, ...steps.splice(ssh, 1));
    });
    expect(secretsOnlyWhereUsed(workflow)).toEqual([expect.stringContaining("job deploy-prod loads the deploy key into ssh-agent before npm ci")]);
  });

  it("a trigger that runs with secrets for forks", () => {
    const workflow = changed((w) => (w.on.pull_request_target = null));
    expect(noPrivilegedTriggers(workflow)).toEqual([expect.stringContaining("runs on pull_request_target")]);
  });
});

describe("reading a workflow", () => {
  it("finds secrets anywhere in a value", () => {
    expect(secretsIn({ a: ["${{ secrets.A }}", { b: "${{secrets.B_1}} and ${{ secrets.A }}" }], c: "vars.C" })).toEqual(["A", "B_1"]);
  });

  it("splits an if into its top-level and-terms", () => {
    expect(topLevelTerms("${{ github.ref == 'refs/heads/main' && (a || b && c) && d == 'x && y' }}")).toEqual([
      "github.ref == 'refs/heads/main'",
      "(a || b && c)",
      "d == 'x && y'",
    ]);
  });

  it("knows the stacks a job works on", () => {
    const w = current();
    expect([stacksOf(w.jobs["preview-dev"]), stacksOf(w.jobs["drift-prod"]), stacksOf(before.jobs.preview), stacksOf(w.jobs.test)]).toEqual([["dev"], ["prod"], ["dev", "prod"], []]);
  });
});
