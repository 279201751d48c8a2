/**
 * `requireSecrets: false` lets a tool that uses no secret (npm run verify) parse a stack file whose
 * secrets it cannot read, without weakening what `pulumi up` gets by default.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../infra/config";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { projectValues } from "../../infra/verify/stackFile";
import { REPO_ROOT } from "../support/stackFiles";

/** The dev stack file's settings as written, with no secret at all (the file holds none). */
function devValuesWithoutSecrets(): Record<string, unknown> {
  return projectValues(parse(readFileSync(join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")));
}

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe("parseStackConfig's requireSecrets option", () => {
  it("by default, missing secrets are refused", () => {
    const found = problems(() => parseStackConfig({ stack: "dev", values: devValuesWithoutSecrets(), secretKeys: new Set() }));
    expect(found).toEqual([
      expect.stringMatching(/^metamcp-guard:authSecret is required/),
      expect.stringMatching(/^metamcp-guard:postgresPassword is required/),
    ]);
  });

  it("with requireSecrets: false, missing secrets are fine and none are handed out", () => {
    const { config, secrets } = parseStackConfig(
      { stack: "dev", values: devValuesWithoutSecrets(), secretKeys: new Set() },
      { requireSecrets: false },
    );
    expect(config.app.limits.pids).toBe(232);
    expect(secrets).toEqual({});
  });

  it("with requireSecrets: false, a secret that is present is still checked", () => {
    const values = { ...devValuesWithoutSecrets(), authSecret: "in plain text and long enough to pass the length rule" };
    const found = problems(() => parseStackConfig({ stack: "dev", values, secretKeys: new Set() }, { requireSecrets: false }));
    expect(found).toEqual([expect.stringMatching(/^metamcp-guard:authSecret is stored in plain text/)]);
  });
});
