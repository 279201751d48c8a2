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
  stderr: string;
}

function runLikePulumi(stack: string, overrides: Record<string, unknown> = {}): RunResult {
  const { values, secretKeys } = stackValues(stack, overrides);
  const child = spawnSync(process.execPath, [join(__dirname, "support", "runLikePulumi.js"), REPO_ROOT, stack], {
    env: {
      ...process.env,
      PULUMI_CONFIG: JSON.stringify(values),
      PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys),
    },
    encoding: "utf8",
    timeout: 60_000,
  });
  const lastLine = child.stdout.trim().split("\n").at(-1) ?? "{}";
  const parsed = JSON.parse(lastLine.startsWith("{") ? lastLine : "{}");
  return { status: child.status, resources: parsed.resources ?? [], error: parsed.error, stderr: child.stderr };
}

describe("infra/index.ts as Pulumi runs it (ts-node, cwd infra/)", () => {
  it("declares the prod stack's containers", () => {
    const run = runLikePulumi("prod");
    expect({ status: run.status, error: run.error }, run.stderr).toEqual({ status: 0, error: undefined });
    expect(run.resources.filter((r) => r.type === "docker:index/container:Container").map((r) => r.name).sort()).toEqual(
      expect.arrayContaining(["metamcp-container", "postgres-container"]),
    );
  });

  it("stops on a bad config before declaring any resource", () => {
    const run = runLikePulumi("dev", { "metamcp-guard:app": { limits: { pids: 0 } } });
    expect({
      status: run.status,
      error: run.error,
      dockerResources: run.resources.filter((r) => r.type.startsWith("docker:")),
    }).toEqual({
      status: 1,
      error: expect.stringContaining("metamcp-guard:app.limits.pids 0 is not a whole number from 8 to 32767"),
      dockerResources: [],
    });
  });
});
