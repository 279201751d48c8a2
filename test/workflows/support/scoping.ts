/**
 * Where a GitHub Actions workflow lets its secrets go, judged from its parsed YAML (pure). The
 * rules the project's workflow keeps, each a function that lists what breaks it:
 *
 * - no secret at the workflow level (it would reach every job, the ones that run branch code too);
 * - every secret is named for the environment it lives in (DEV_…, PROD_…) and used only by jobs
 *   in that environment, so it is never read from the repository store, which any branch's
 *   workflow can read;
 * - the prod stack, prod's secrets and prod's deploy key appear only in jobs of the `production`
 *   environment, and those jobs run main's code only;
 * - secrets reach only the steps that use them: never a job's `env`, never a step that installs
 *   or tests the branch's code (npm ci runs its dependencies' scripts), and the SSH agent starts
 *   after `npm ci`;
 * - no trigger that runs with secrets on behalf of a fork (pull_request_target, workflow_run).
 */

export interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
export interface Job {
  name?: string;
  if?: string;
  needs?: string | string[];
  environment?: string | { name: string; url?: string };
  strategy?: { "fail-fast"?: boolean; matrix?: Record<string, unknown> };
  permissions?: Record<string, string>;
  env?: Record<string, unknown>;
  concurrency?: { group?: string; "cancel-in-progress"?: boolean };
  steps: Step[];
}
export interface Workflow {
  on: Record<string, any>;
  env?: Record<string, unknown>;
  defaults?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

export const PRODUCTION_ENVIRONMENT = "production";
/** The stacks whose secrets and hosts are production's. */
export const PRODUCTION_STACKS = ["prod", "production"];
/** Secret name prefix → the environment that holds it. */
export const SECRET_ENVIRONMENTS: Record<string, string> = { DEV_: "dev", PROD_: PRODUCTION_ENVIRONMENT };
/** GitHub's own per-run token: scoped by `permissions`, read-only for forks. */
const RUN_TOKEN = "GITHUB_TOKEN";
/** Triggers that run a workflow with the base repository's secrets on a fork's behalf. */
const PRIVILEGED_TRIGGERS = ["pull_request_target", "workflow_run"];
/** The main-branch guard a job's `if` must hold (as a top-level `&&` term) to run main's code only. */
const MAIN_ONLY = "github.ref == 'refs/heads/main'";

/** Names of the secrets a value mentions (`${{ secrets.NAME }}`), anywhere inside it. */
export function secretsIn(value: unknown): string[] {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? "");
  return [...new Set([...text.matchAll(/secrets\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]))];
}

/** The environment a secret's name says it lives in, or undefined for a name without a known prefix. */
export function environmentOfSecret(name: string): string | undefined {
  const prefix = Object.keys(SECRET_ENVIRONMENTS).find((p) => name.startsWith(p));
  return prefix && SECRET_ENVIRONMENTS[prefix];
}

export function environmentOf(job: Job): string | undefined {
  return typeof job.environment === "string" ? job.environment : job.environment?.name;
}

/** The `&&` terms of an expression at its top level (parentheses and quotes kept whole). */
export function topLevelTerms(expression: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") quoted = !quoted;
    if (quoted) continue;
    if (c === "(") depth++;
    if (c === ")") depth--;
    if (depth === 0 && expression.startsWith("&&", i)) {
      terms.push(expression.slice(start, i));
      start = i + 2;
    }
  }
  terms.push(expression.slice(start));
  return terms.map((t) => t.trim().replace(/^\$\{\{\s*|\s*\}\}$/g, ""));
}

/**
 * Whether a job can only run main's code: its `if` requires the main ref. A pull request's ref is
 * refs/pull/N/merge and a manual run's is the branch it was started on, so anything else can run
 * a branch's code, workflow file included.
 */
export function runsOnlyMainCode(job: Job): boolean {
  return job.if !== undefined && topLevelTerms(job.if).includes(MAIN_ONLY);
}

/** The stacks a job works on: its stack-name inputs, STACK variables, npm run preview/drift arguments, matrix. */
export function stacksOf(job: Job): string[] {
  const matrix = (job.strategy?.matrix?.stack as string[] | undefined) ?? [];
  const expand = (value: unknown) => (typeof value === "string" && /matrix\.stack/.test(value) ? matrix : typeof value === "string" ? [value] : []);
  const named = job.steps.flatMap((step) => [
    ...expand(step.with?.["stack-name"]),
    ...expand(step.env?.STACK),
    ...[...(step.run ?? "").matchAll(/npm run (?:preview|drift) -- "?([\w/-]+)"?/g)].flatMap((m) => (m[1] === "$STACK" ? [] : [m[1]])),
  ]);
  return [...new Set([...matrix, ...named])];
}

export function noWorkflowLevelSecrets(workflow: Workflow): string[] {
  const names = secretsIn([workflow.env, workflow.defaults]);
  return names.map((name) => `secret ${name} is set for the whole workflow: every job gets it, the ones that run branch code too`);
}

export function secretsLiveInTheirEnvironment(workflow: Workflow): string[] {
  return Object.entries(workflow.jobs).flatMap(([id, job]) =>
    secretsIn(job)
      .filter((name) => name !== RUN_TOKEN)
      .flatMap((name) => {
        const wanted = environmentOfSecret(name);
        if (!wanted) return [`job ${id} uses secret ${name}, which names no environment (${Object.keys(SECRET_ENVIRONMENTS).join(", ")}): it would come from the repository store`];
        return environmentOf(job) === wanted ? [] : [`job ${id} uses secret ${name} outside the ${wanted} environment (it has ${environmentOf(job) ?? "none"})`];
      }),
  );
}

export function productionOnlyBehindItsEnvironment(workflow: Workflow): string[] {
  return Object.entries(workflow.jobs).flatMap(([id, job]) => {
    const problems: string[] = [];
    const environment = environmentOf(job);
    const prodStacks = stacksOf(job).filter((s) => PRODUCTION_STACKS.includes(s));
    const prodSecrets = secretsIn(job).filter((name) => environmentOfSecret(name) === PRODUCTION_ENVIRONMENT);
    const touchesProd = prodStacks.length > 0 || prodSecrets.length > 0;
    if (prodStacks.length > 0 && environment !== PRODUCTION_ENVIRONMENT) {
      problems.push(`job ${id} works on stack ${prodStacks.join(", ")} outside the ${PRODUCTION_ENVIRONMENT} environment`);
    }
    if ((touchesProd || environment === PRODUCTION_ENVIRONMENT) && !runsOnlyMainCode(job)) {
      const what = [...prodSecrets, ...prodStacks.map((s) => `stack ${s}`)].join(", ") || `the ${PRODUCTION_ENVIRONMENT} environment`;
      problems.push(`job ${id} gets ${what} but can run branch code: its if does not require ${MAIN_ONLY}`);
    }
    return problems;
  });
}

/** Whether a step installs or runs the branch's code and dependencies without needing any secret. */
const buildsBranchCode = (step: Step) => /\bnpm (ci|install|i|test|run test)\b/.test(step.run ?? "");
const startsSshAgent = (step: Step) => step.uses === "./.github/actions/docker-host-ssh";

export function secretsOnlyWhereUsed(workflow: Workflow): string[] {
  const workflowSecrets = secretsIn(workflow.env);
  return Object.entries(workflow.jobs).flatMap(([id, job]) => {
    const problems = secretsIn(job.env).map((name) => `job ${id} sets secret ${name} for all its steps (env); give it to the step that uses it`);
    const jobSecrets = [...workflowSecrets, ...secretsIn(job.env)];
    job.steps.forEach((step, index) => {
      const seen = [...new Set([...jobSecrets, ...secretsIn([step.env, step.with])])].filter((name) => name !== RUN_TOKEN);
      if (buildsBranchCode(step) && seen.length > 0) {
        problems.push(`job ${id} step ${index + 1} (${step.run?.trim()}) sees ${seen.join(", ")}: installing or testing code needs no secret`);
      }
    });
    const ssh = job.steps.findIndex(startsSshAgent);
    const install = job.steps.findIndex(buildsBranchCode);
    if (ssh >= 0 && install > ssh) problems.push(`job ${id} loads the deploy key into ssh-agent before ${job.steps[install].run?.trim()}, which then can use it`);
    return problems;
  });
}

export function noPrivilegedTriggers(workflow: Workflow): string[] {
  return PRIVILEGED_TRIGGERS.filter((t) => t in (workflow.on ?? {})).map((t) => `the workflow runs on ${t}, which hands the repository's secrets to code a fork controls`);
}

/** Every rule, for one call in a test. */
export const SCOPING_RULES = {
  noWorkflowLevelSecrets,
  secretsLiveInTheirEnvironment,
  productionOnlyBehindItsEnvironment,
  secretsOnlyWhereUsed,
  noPrivilegedTriggers,
};

export function scopingProblems(workflow: Workflow): string[] {
  return Object.values(SCOPING_RULES).flatMap((rule) => rule(workflow));
}
