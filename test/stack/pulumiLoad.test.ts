/**
 * Pulumi loads infra/index.ts with ts-node after changing directory to infra/. This runs the
 * SDK's own program runner the same way, in a child process under mocks, so a program that
 * only works under vitest (or only from the repo root) fails here.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, stackValues } from "../support/stackFiles";

interface RunResult {
  status: number | null;
  resources: Array<{ type: string; name: string }>;
  error?: string;
  /** What the runner logged as errors: what `pulumi up` prints to the user. */
  logged: string[];
  stderr: string;
}

/** The runner's error log lines (`error: [runtime] …`, messages may span lines), one entry per message. */
function loggedErrors(stderr: string): string[] {
  return stderr
    .split(/^error: \[runtime\] /m)
    .slice(1)
    .map((message) => message.trimEnd());
}

const RUN_TIMEOUT_MS = 180_000;

function runLikePulumi(stack: string, overrides: Record<string, unknown> = {}): RunResult {
  const { values, secretKeys } = stackValues(stack, overrides);
  const child = spawnSync(process.execPath, [join(__dirname, "support", "runLikePulumi.js"), REPO_ROOT, stack], {
    env: {
      ...process.env,
      PULUMI_CONFIG: JSON.stringify(values),
      PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys),
    },
    encoding: "utf8",
    // A hang guard, not a speed bound: ts-node type-checks the whole program, slow on a loaded 2-core machine.
    timeout: RUN_TIMEOUT_MS,
  });
  const lastLine = child.stdout.trim().split("\n").at(-1) ?? "{}";
  const parsed = JSON.parse(lastLine.startsWith("{") ? lastLine : "{}");
  return { status: child.status, resources: parsed.resources ?? [], error: parsed.error, logged: loggedErrors(child.stderr), stderr: child.stderr };
}

describe("infra/index.ts as Pulumi runs it (ts-node, cwd infra/)", { timeout: RUN_TIMEOUT_MS + 10_000 }, () => {
  it("declares the prod stack's containers", () => {
    const run = runLikePulumi("prod");
    expect({ status: run.status, error: run.error }, run.stderr).toEqual({ status: 0, error: undefined });
    expect(run.resources.filter((r) => r.type === "docker:index/container:Container").map((r) => r.name).sort()).toEqual(
      expect.arrayContaining(["metamcp-container", "postgres-container"]),
    );
  });

  it("stops on a bad config before declaring any resource", () => {
    const run = runLikePulumi("dev", { "metamcp-guard:app": { limits: { pids: 0 } } });
    expect({ status: run.status, dockerResources: run.resources.filter((r) => r.type.startsWith("docker:")) }).toEqual({
      status: 1,
      dockerResources: [],
    });
  });

  it("prints a config error exactly as its message: the headline and one line per problem, no stack trace", () => {
    const run = runLikePulumi("dev", { "metamcp-guard:app": { port: 0, limits: { pids: 0 } } });
    expect(run.logged, run.stderr).toEqual([
      'Stack "dev" has 2 config problems; nothing was deployed:\n' +
        "  - metamcp-guard:app.port 0 is not a whole number from 1 to 65535\n" +
        "  - metamcp-guard:app.limits.pids 0 is not a whole number from 8 to 32767",
    ]);
  });
});
