// PostgresCredentials under Pulumi mocks (vitest), where the stack's mocks tests construct it: the registration
// (type token, the password kept secret both ways), and a provider that survives Pulumi's function serialization:
// the text holds no password, evaluates to a working provider, and its errors keep their message and code.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { PostgresCredentials } from "../../infra/postgresCredentials";
import type { PostgresCredentialsInputs } from "../../infra/postgresCredentials/credentials";
import { loadSerializedProvider } from "../support/loadSerializedProvider";
import { named, recordResources, type RecordedResource } from "../support/mocks";

const PASSWORD = "pw-serialized-never-shown";
/** @pulumi/pulumi/runtime/rpc's marker of a secret value on the wire. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const DECLARED: PostgresCredentialsInputs = {
  dockerHost: "unix:///var/run/docker.sock",
  containerId: "c0ffee",
  user: "metamcp_user",
  database: "metamcp_db",
  password: PASSWORD,
  acceptRename: false,
  postgresContainer: "metamcp-test-postgres",
  metamcpContainer: "metamcp-test",
};

describe("PostgresCredentials under Pulumi mocks (vitest)", () => {
  let registered: RecordedResource;
  let passwordIsSecret: boolean | undefined;
  let provider: pulumi.dynamic.ResourceProvider;

  beforeAll(async () => {
    const resources = await recordResources();
    // A plain (not secret) password in: the resource must make it secret itself.
    const credentials = new PostgresCredentials("credentials", { ...DECLARED, containerId: pulumi.output("c0ffee") });
    // Waiting on an output waits for registration, which waits for the provider's serialization.
    passwordIsSecret = await (credentials.password as unknown as { isSecret: Promise<boolean> }).isSecret;
    registered = named(resources, "credentials");
    provider = loadSerializedProvider(registered.inputs.__provider as string);
  });

  it("registers a dynamic resource named PostgresCredentials", () => {
    expect(registered.type).toBe("pulumi-nodejs:dynamic/metamcp-guard:PostgresCredentials");
  });

  it("sends the password to the engine as a secret input, even when given in plain", () => {
    expect(registered.inputs.password).toMatchObject({ "4dabf18193072939515e22adb298388d": SECRET_SIG, value: PASSWORD });
  });

  it("asks for the password to stay a secret output", () => {
    expect(registered.options.additionalSecretOutputs).toContain("password");
  });

  it("exposes the password output as a secret", () => {
    expect(passwordIsSecret).toBe(true);
  });

  it("the serialized provider holds its functions by value, no vite helpers, no password", () => {
    const text = registered.inputs.__provider as string;
    expect(text).toContain("exports.handler");
    expect(text).toContain("ALTER ROLE CURRENT_USER PASSWORD"); // the statement builder came along
    expect(text).toContain("pbkdf2Sync"); // and the SCRAM hashing
    expect(text).toContain("dial-stdio"); // and the Docker transport
    expect(text).not.toMatch(/__vi_|__vite_ssr/);
    expect(text).not.toContain(PASSWORD);
  });

  it("evaluates to a provider with every operation", () => {
    expect(Object.keys(provider).sort()).toEqual(["check", "create", "delete", "diff", "read", "update"]);
  });

  it("still refuses a rename at preview after serialization, with the steps", async () => {
    const result = await provider.check!(DECLARED, { ...DECLARED, user: "metamcp_app" });
    expect(result.failures?.map((f) => f.property)).toEqual(["user"]);
    expect(result.failures?.[0]?.reason).toContain(`ALTER ROLE "metamcp_user" RENAME TO "metamcp_app"`);
  });

  it("still tells a new password for a change", async () => {
    expect(await provider.diff!("postgres-credentials", DECLARED, { ...DECLARED, password: "another-password-1" })).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  it("keeps its errors' code and message, without the password, when no engine answers", async () => {
    const err = await provider
      .create({ ...DECLARED, dockerHost: "tcp://127.0.0.1:1", waitTimeoutMs: 1_000 })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ name: "DockerApiError", code: "UNREACHABLE" });
    expect((err as Error).message).toMatch(/cannot reach the Docker engine at tcp:\/\/127\.0\.0\.1:1/);
    expect((err as Error).message).not.toContain(PASSWORD);
  });
});
