/**
 * The Postgres role's password applied inside the database (PostgresCredentials), as each real stack file
 * declares it under mocks: where, as whom, kept secret, and ordered between Postgres and MetaMCP.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, isSecretValue, named, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { TEST_SECRETS } from "../support/stackFiles";
import { STACK_NAMES } from "./expectations";

const CREDENTIALS = "pulumi-nodejs:dynamic/metamcp-guard:PostgresCredentials";

describe.each(STACK_NAMES)("Postgres credentials (%s)", (stack) => {
  let declared: DeclaredStack;
  let credentials: RecordedResource;

  beforeAll(async () => {
    declared = await declareStack(stack);
    credentials = named(declared.resources, "postgres-credentials");
  });

  it("is a PostgresCredentials resource", () => {
    expect(credentials.type).toBe(CREDENTIALS);
  });

  it("is declared once", () => {
    expect(declared.resources.filter((r) => r.type === CREDENTIALS)).toHaveLength(1);
  });

  it("applies the password in the stack's Postgres container", () => {
    expect(credentials.inputs.containerId).toBe("postgres-container-id");
  });

  it("reaches that container through the stack's Docker host", () => {
    expect(credentials.inputs.dockerHost).toBe(declared.config.dockerHost);
  });

  it("sets the password of MetaMCP's role", () => {
    expect(credentials.inputs.user).toBe("metamcp_user");
  });

  it("connects to MetaMCP's database", () => {
    expect(credentials.inputs.database).toBe("metamcp_db");
  });

  it("applies the stack's postgresPassword", () => {
    expect(credentials.inputs.password.value).toBe(TEST_SECRETS["metamcp-guard:postgresPassword"]);
  });

  it("gets the password as a secret input", () => {
    expect(isSecretValue(credentials.inputs.password)).toBe(true);
  });

  it("asks the engine to keep the password a secret output", () => {
    expect(credentials.options.additionalSecretOutputs).toContain("password");
  });

  it("refuses a rename of the role or database unless the stack file accepts it", () => {
    expect(credentials.inputs.acceptRename).toBe(false);
  });

  it("names the stack's containers for the rename steps", () => {
    expect([credentials.inputs.postgresContainer, credentials.inputs.metamcpContainer]).toEqual([`metamcp-${stack}-postgres`, `metamcp-${stack}`]);
  });

  it("runs once Postgres's PidsLimit has started the container", () => {
    expect(credentials.options.dependencies.some((urn) => urn.endsWith("::postgres-pids"))).toBe(true);
  });

  it("comes before MetaMCP's container, so a new MetaMCP logs in with a password already in force", () => {
    const dependencies = named(declared.resources, "metamcp-container").options.dependencies;
    expect(dependencies.some((urn) => urn.endsWith("::postgres-credentials"))).toBe(true);
  });

  it("belongs to the Postgres component", () => {
    expect(credentials.options.parent).toMatch(/metamcp-guard:index:Postgres::postgres$/);
  });
});

describe("Postgres credentials with database.acceptRename", () => {
  it("let a rename through when the stack file says so", async () => {
    const declared = await declareStack("dev", { "metamcp-guard:database": { acceptRename: true } });
    expect(named(declared.resources, "postgres-credentials").inputs.acceptRename).toBe(true);
  });
});

describe("Postgres credentials with an external database", () => {
  it("are not declared: the stack owns no role there (change the password in the database, then databaseUrl)", async () => {
    const declared = await declareStack("dev", {
      "metamcp-guard:database": { mode: "external" },
      "metamcp-guard:postgresPassword": undefined,
      "metamcp-guard:databaseUrl": "postgresql://u:p@db.example.com:5432/metamcp",
    });
    expect(declared.resources.filter((r) => r.type === CREDENTIALS)).toEqual([]);
  });
});
