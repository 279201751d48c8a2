/** The Docker host is never reached over plain TCP across a network. */
import { describe, expect, it } from "vitest";
import { clearTextTarget, dockerHostEncrypted, hasTls } from "../../policy/dockerHost";
import { DOCKER_PROVIDER } from "../../policy/resources";
import { resource, UNKNOWN_STRING, validateResource } from "./support/harness";
import { container, dockerProvider, remoteImage } from "./support/fixtures";

const provider = (props: Record<string, unknown>) => resource({ type: DOCKER_PROVIDER, name: "docker", props });
const messages = async (outcome: Promise<{ violations: { message: string }[] }>) => (await outcome).violations.map((v) => v.message);

describe("docker-host-encrypted", () => {
  it.each(["unix:///var/run/docker.sock", "ssh://deploy@metamcp.example.internal", "tcp://127.0.0.1:2375", "tcp://localhost:2375", "tcp://[::1]:2375"])(
    "passes %s",
    async (host) => {
      expect(await validateResource(dockerHostEncrypted, provider({ host }))).toEqual({ violations: [] });
    },
  );

  it("fails plain tcp:// to another machine, naming what crosses in clear", async () => {
    expect(await messages(validateResource(dockerHostEncrypted, provider({ host: "tcp://10.0.0.5:2375" })))).toEqual([
      expect.stringMatching(/^Docker provider docker reaches tcp:\/\/10\.0\.0\.5:2375 over plain TCP: .*the database password and the auth secret.* on 10\.0\.0\.5:2375; use ssh:\/\/user@host, or give the provider caMaterial/),
    ]);
  });

  it("passes tcp:// with TLS material or a certificate folder", async () => {
    const material = { caMaterial: "ca", certMaterial: "cert", keyMaterial: "key" };
    expect([
      await validateResource(dockerHostEncrypted, provider({ host: "tcp://10.0.0.5:2376", ...material })),
      await validateResource(dockerHostEncrypted, provider({ host: "tcp://10.0.0.5:2376", certPath: "/etc/docker/certs" })),
    ]).toEqual([{ violations: [] }, { violations: [] }]);
  });

  it("fails tcp:// with only part of the TLS material", async () => {
    expect(await messages(validateResource(dockerHostEncrypted, provider({ host: "tcp://10.0.0.5:2376", caMaterial: "ca" })))).toHaveLength(1);
  });

  it("stops a container going through such a provider too (its create body carries the secrets)", async () => {
    const through = container({ provider: dockerProvider({ host: "tcp://docker.example.internal:2375" }) });
    expect(await messages(validateResource(dockerHostEncrypted, through))).toEqual([
      expect.stringContaining("container app-container goes through Docker provider docker, which reaches tcp://docker.example.internal:2375 over plain TCP"),
    ]);
  });

  it("is not applicable to other resources, nor to a container on the default provider", async () => {
    expect([
      (await validateResource(dockerHostEncrypted, remoteImage("postgres:16"))).notApplicable,
      (await validateResource(dockerHostEncrypted, container({ provider: null }))).notApplicable,
    ]).toEqual(["applies to Docker providers and containers only", "the container has no explicit Docker provider"]);
  });

  it("skips a host unknown during preview", async () => {
    expect(await validateResource(dockerHostEncrypted, provider({ host: UNKNOWN_STRING }))).toEqual({ violations: [] });
  });

  it("reads the target of a clear-text host", () => {
    expect(["tcp://10.0.0.5:2375", "http://h", "TCP://H:1", "tcp://127.0.0.1:2375", "ssh://h", "unix:///x"].map(clearTextTarget)).toEqual([
      "10.0.0.5:2375",
      "h",
      "H:1",
      undefined,
      undefined,
      undefined,
    ]);
    expect([hasTls({ certPath: "" }), hasTls({ caMaterial: "a", certMaterial: "b", keyMaterial: "c" })]).toEqual([false, true]);
  });
});
