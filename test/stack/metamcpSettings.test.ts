/** MetaMCP's own settings, as each real stack file declares them under mocks. */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, isSecretValue, named, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { STACK_NAMES } from "./expectations";

describe.each(STACK_NAMES)("MetaMCP's settings (%s)", (stack) => {
  let declared: DeclaredStack;
  let settings: RecordedResource;

  beforeAll(async () => {
    declared = await declareStack(stack);
    settings = named(declared.resources, "metamcp-settings");
  });

  it("bounds a session's life at 24 h, behind the guard's idle timeout", () => {
    expect(settings.inputs.sessionLifetime).toBe("86400000");
  });

  it("lets a server crash 3 times before MetaMCP marks it ERROR for everyone", () => {
    expect(settings.inputs.maxAttempts).toBe("3");
  });

  it("writes them through psql in the stack's own Postgres container", () => {
    expect(settings.inputs).toMatchObject({ containerId: "postgres-container-id", user: "metamcp_user", database: "metamcp_db" });
  });

  it("waits for MetaMCP's container, whose migrations make the table", () => {
    expect(settings.options.dependencies.some((urn) => urn.endsWith("::metamcp-container"))).toBe(true);
  });
});

describe("MetaMCP's settings with an external database", () => {
  let settings: RecordedResource;

  beforeAll(async () => {
    const declared = await declareStack("dev", {
      "metamcp-guard:database": { mode: "external" },
      "metamcp-guard:postgresPassword": undefined,
      "metamcp-guard:databaseUrl": "postgresql://app:s3cret@db.example.com:5432/metamcp",
      "metamcp-guard:app": { settings: { sessionLifetime: "off", maxAttempts: 5 } },
    });
    settings = named(declared.resources, "metamcp-settings");
  });

  it("go through the database URL, as a secret", () => {
    expect(isSecretValue(settings.inputs.databaseUrl)).toBe(true);
  });

  it("remove the lifetime row for off, as MetaMCP's own settings page does", () => {
    expect(settings.inputs.sessionLifetime).toBeUndefined();
  });

  it("take the stack's maxAttempts", () => {
    expect(settings.inputs.maxAttempts).toBe("5");
  });
});
