/**
 * Secrets reach resources only as Pulumi secrets: no input of any resource holds a secret's
 * value in plain text, so it never lands unencrypted in state or in preview output.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, isSecretValue, named, type DeclaredStack } from "../support/mocks";
import { TEST_SECRETS } from "../support/stackFiles";
import { STACK_NAMES } from "./expectations";

/** Every string in `value` that is not inside a secret wrapper. */
function plainStrings(value: unknown): string[] {
  if (isSecretValue(value)) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(plainStrings);
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(plainStrings);
  return [];
}

describe.each(STACK_NAMES)("secrets (%s)", (stack) => {
  let declared: DeclaredStack;

  beforeAll(async () => {
    declared = await declareStack(stack);
  });

  it.each(["metamcp-guard:authSecret", "metamcp-guard:postgresPassword"] as const)(
    "%s is in no resource's plain inputs",
    (key) => {
      const secret = TEST_SECRETS[key];
      const leaks = declared.resources.filter((r) => plainStrings(r.inputs).some((s) => s.includes(secret)));
      expect(leaks.map((r) => r.name)).toEqual([]);
    },
  );

  it("passes MetaMCP's environment as a secret", () => {
    expect(isSecretValue(named(declared.resources, "metamcp-container").inputs.envs)).toBe(true);
  });

  it("passes Postgres's environment as a secret", () => {
    expect(isSecretValue(named(declared.resources, "postgres-container").inputs.envs)).toBe(true);
  });

  it("composes DATABASE_URL from the password, URL-encoded", async () => {
    const envs: string[] = named(declared.resources, "metamcp-container").inputs.envs.value;
    const password = encodeURIComponent(TEST_SECRETS["metamcp-guard:postgresPassword"]);
    expect(envs).toContain(`DATABASE_URL=postgresql://metamcp_user:${password}@postgres:5432/metamcp_db`);
  });
});
