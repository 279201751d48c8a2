// MetaMcpSettings under Pulumi mocks (vitest), where the stack's mocks tests will construct it: the registration
// (type token, inputs as rows hold them, the URL kept secret), and a provider that survives Pulumi's function
// serialization: the text evaluates to a working provider whose errors keep their message and code.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { MetaMcpSettings } from "../../infra/metamcpSettings";
import { loadSerializedProvider } from "../support/loadSerializedProvider";
import { freePort } from "../support/net";

const PASSWORD = "pw-serialized-never-shown";
/** @pulumi/pulumi/runtime/rpc's marker of a secret value on the wire. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

interface Registration {
  args: pulumi.runtime.MockResourceArgs;
  additionalSecretOutputs: string[];
}

describe("MetaMcpSettings under Pulumi mocks (vitest)", () => {
  const seen = new Map<string, Registration>();
  let internalOutputs: Record<string, unknown> = {};
  let externalUrlSecret: boolean | undefined;
  let unreachableUrl = "";

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          seen.set(args.name, { args, additionalSecretOutputs: [] });
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      "metamcp-guard",
      "test",
    );
    // The mocks' newResource does not see resource options; the registration request does.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      registerResource(req: { getName(): string; getAdditionalsecretoutputsList(): string[] }, cb: unknown): void;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
      const wrapped = (err: unknown, res: unknown) => {
        const r = seen.get(req.getName());
        if (r) r.additionalSecretOutputs = req.getAdditionalsecretoutputsList();
        (cb as (e: unknown, r: unknown) => void)(err, res);
      };
      register(req, wrapped);
    };

    unreachableUrl = `postgres://metamcp:${PASSWORD}@127.0.0.1:${await freePort()}/metamcp_db`;
    const internal = new MetaMcpSettings("internal-settings", {
      sessionLifetimeMs: 86_400_000,
      maxAttempts: 3,
      database: { dockerHost: "unix:///var/run/docker.sock", containerId: pulumi.output("c0ffee"), user: "metamcp_user", database: "metamcp_db" },
    });
    const external = new MetaMcpSettings("external-settings", {
      sessionLifetimeMs: null,
      maxAttempts: 5,
      database: { databaseUrl: unreachableUrl },
      waitTimeoutMs: 1_000,
    });
    // Waiting on outputs waits for registration, which waits for the provider's serialization.
    internalOutputs = await new Promise((resolve) =>
      pulumi
        .all([internal.sessionLifetime, internal.maxAttempts, internal.containerId, internal.user, internal.database, internal.databaseUrl])
        .apply(([sessionLifetime, maxAttempts, containerId, user, database, databaseUrl]) =>
          resolve({ sessionLifetime, maxAttempts, containerId, user, database, databaseUrl }),
        ),
    );
    externalUrlSecret = await (external.databaseUrl as unknown as { isSecret: Promise<boolean> }).isSecret;
    await new Promise<void>((resolve) => external.urn.apply(() => resolve()));
  });

  it("exposes the settings as rows hold them, and every way-in output", () => {
    // Would be undefined if the class declared them as plain fields (ES2022 class fields overwrite them).
    expect(internalOutputs).toEqual({
      sessionLifetime: "86400000",
      maxAttempts: "3",
      containerId: "c0ffee",
      user: "metamcp_user",
      database: "metamcp_db",
      databaseUrl: undefined,
    });
  });

  it("registers a dynamic resource named MetaMcpSettings with the settings as text", () => {
    const r = seen.get("internal-settings")!.args;
    expect(r.type).toBe("pulumi-nodejs:dynamic/metamcp-guard:MetaMcpSettings");
    expect(r.inputs).toMatchObject({ sessionLifetime: "86400000", maxAttempts: "3", dockerHost: "unix:///var/run/docker.sock" });
  });

  it("no lifetime (null) sends no sessionLifetime at all: the row is to be removed", () => {
    const r = seen.get("external-settings")!.args;
    expect(r.inputs.sessionLifetime).toBeUndefined();
    expect(r.inputs.maxAttempts).toBe("5");
  });

  it("the database URL goes to the engine as a secret input and is asked to stay a secret output", () => {
    const external = seen.get("external-settings")!;
    expect(external.args.inputs.databaseUrl).toMatchObject({ "4dabf18193072939515e22adb298388d": SECRET_SIG, value: unreachableUrl });
    expect(external.additionalSecretOutputs).toContain("databaseUrl");
    expect(externalUrlSecret).toBe(true);
    expect(seen.get("internal-settings")!.additionalSecretOutputs).toContain("databaseUrl");
  });

  it("the serialized provider holds its functions by value, no vite helpers, no secret", () => {
    const text: unknown = seen.get("external-settings")!.args.inputs.__provider;
    expect(typeof text).toBe("string");
    expect(text).toContain("exports.handler");
    expect(text).toContain("to_regclass"); // the SQL builders came along
    expect(text).toContain("dial-stdio"); // and the Docker transport
    expect(text).not.toMatch(/__vi_|__vite_ssr/);
    expect(text).not.toContain(PASSWORD);
  });

  it("the serialized text evaluates to a working provider", async () => {
    const provider = loadSerializedProvider(seen.get("internal-settings")!.args.inputs.__provider as string);
    expect(Object.keys(provider).sort()).toEqual(["check", "create", "delete", "diff", "read", "update"]);
    const bad = await provider.check!({}, { maxAttempts: "0", sessionLifetime: "5", databaseUrl: "mysql://x" });
    expect(bad.failures?.map((f) => f.property).sort()).toEqual(["databaseUrl", "maxAttempts", "sessionLifetime"]);
    const diff = await provider.diff!("metamcp-settings", { maxAttempts: "1", databaseUrl: "postgres://u@h/d" }, { maxAttempts: "3", databaseUrl: "postgres://u@h/d" });
    expect(diff).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("errors raised inside the serialized provider keep their message and code, without the password", async () => {
    const provider = loadSerializedProvider(seen.get("external-settings")!.args.inputs.__provider as string);
    const invalid = await provider.create({ maxAttempts: "11", databaseUrl: unreachableUrl }).then(() => undefined, (e: unknown) => e);
    expect(invalid).toMatchObject({ name: "MetaMcpSettingsError", code: "INVALID_SETTING" });
    // node-postgres is required inside the serialized functions; nothing listens on the port.
    const err = await provider.create({ maxAttempts: "3", databaseUrl: unreachableUrl, waitTimeoutMs: 1_000 }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ name: "MetaMcpSettingsError", code: "TABLE_TIMEOUT" });
    expect((err as Error).message).toMatch(/Last seen: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ .*ECONNREFUSED/);
    expect((err as Error).message).not.toContain(PASSWORD);
    // The internal way: the Docker transport inside the serialized text, against an engine nobody serves.
    const docker = await provider
      .create({ maxAttempts: "3", dockerHost: "tcp://127.0.0.1:1", containerId: "c", user: "u", database: "d", waitTimeoutMs: 1_000 })
      .then(() => undefined, (e: unknown) => e);
    expect(docker).toMatchObject({ name: "DockerApiError", code: "UNREACHABLE" });
  });
});
