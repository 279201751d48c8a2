// The provider must survive Pulumi's function serialization under vitest (the mocks tests of the whole stack
// construct PidsLimit there) and under ts-node (how Pulumi itself loads the program).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { PidsLimit } from "../../infra/pidsLimit";
import { loadSerializedProvider } from "../support/loadSerializedProvider";

const MIB = 1024 * 1024;

describe("PidsLimit under Pulumi mocks (vitest)", () => {
  const seen: pulumi.runtime.MockResourceArgs[] = [];
  let outputs: Record<string, unknown> = {};

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          seen.push(args);
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      "metamcp-guard",
      "test",
    );
    const limit = new PidsLimit("app-pids", {
      dockerHost: "unix:///var/run/docker.sock",
      containerId: pulumi.output("c0ffee"),
      limit: 64,
      memory: 128 * MIB,
      memorySwap: 128 * MIB,
      running: true,
    });
    // Waiting on an output waits for registration, which waits for the provider's serialization.
    outputs = await new Promise((resolve) =>
      pulumi.all([limit.limit, limit.containerId, limit.dockerHost]).apply(([l, c, d]) => resolve({ limit: l, containerId: c, dockerHost: d })),
    );
  });

  it("exposes limit, containerId and dockerHost as outputs", () => {
    // Would be undefined if the class declared them as plain fields (ES2022 class fields overwrite them).
    expect(outputs).toEqual({ limit: 64, containerId: "c0ffee", dockerHost: "unix:///var/run/docker.sock" });
  });

  it("registers a dynamic resource whose inputs carry the serialized provider", () => {
    const r = seen.find((a) => a.name === "app-pids");
    expect(r?.type).toBe("pulumi-nodejs:dynamic/metamcp-guard:PidsLimit");
    expect(r?.inputs).toMatchObject({ dockerHost: "unix:///var/run/docker.sock", containerId: "c0ffee", limit: 64 });
    const text: unknown = r?.inputs.__provider;
    expect(typeof text).toBe("string");
    expect(text).toContain("exports.handler");
    // The Docker API functions were serialized by value, not as references to vite's module helpers.
    expect(text).toContain("dial-stdio");
    expect(text).not.toMatch(/__vi_|__vite_ssr/);
  });

  it("serialized text evaluates to a working provider", async () => {
    const text = seen.find((a) => a.name === "app-pids")!.inputs.__provider as string;
    const provider = loadSerializedProvider(text);
    expect(Object.keys(provider).sort()).toEqual(["check", "create", "delete", "diff", "read", "update"]);
    const inputs = { dockerHost: "unix:///s", containerId: "a", limit: 5, memory: MIB * 64, memorySwap: MIB * 64, running: true };
    const bad = await provider.check!({}, { ...inputs, dockerHost: "http://x", limit: 0 });
    expect(bad.failures?.map((f) => f.property).sort()).toEqual(["dockerHost", "limit"]);
    const diff = await provider.diff!("c", inputs, { ...inputs, containerId: "b" });
    expect(diff.replaces).toEqual(["containerId"]);
  });

  it("errors raised inside the serialized provider keep their message and code", async () => {
    const text = seen.find((a) => a.name === "app-pids")!.inputs.__provider as string;
    const provider = loadSerializedProvider(text);
    // Nothing listens on port 1, so this fails fast without any engine.
    const err = await provider
      .create({ dockerHost: "tcp://127.0.0.1:1", containerId: "c", limit: 5, memory: 64 * MIB, memorySwap: 64 * MIB, running: true })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ name: "DockerApiError", code: "UNREACHABLE" });
    expect((err as Error).message).toMatch(/cannot reach the Docker engine at tcp:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/);
  });
});
