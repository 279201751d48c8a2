/**
 * One pinned host key on every SSH path the stack declares (issue 12), under mocks: the prod stack reaches
 * its Docker host over ssh://, so the docker.Provider's ssh, each PidsLimit, MetaMcpSettings and each remote
 * Command carry host.ssh.hostKey; the dev stack (a local socket) carries none.
 */
import { describe, expect, it } from "vitest";
import { dockerProviderSshOpts } from "../../infra/sshPin";
import { declareStack, ofType, unwrapSecret } from "../support/mocks";

const PIDS = "pulumi-nodejs:dynamic/metamcp-guard:PidsLimit";
const SETTINGS = "pulumi-nodejs:dynamic/metamcp-guard:MetaMcpSettings";
const CREDENTIALS = "pulumi-nodejs:dynamic/metamcp-guard:PostgresCredentials";

describe("the prod stack's SSH paths all check host.ssh.hostKey", async () => {
  const { config, resources } = await declareStack("prod");
  const pin = config.host.ssh!.hostKey!;

  it("the stack file pins a key (and reaches its Docker host over ssh://)", () => {
    expect({ docker: config.dockerHost.startsWith("ssh://"), pin }).toEqual({ docker: true, pin: expect.stringMatching(/^ssh-ed25519 AAAA/) });
  });

  it("the docker.Provider's ssh accepts that key and no other", () => {
    const [provider] = ofType(resources, "pulumi:providers:docker");
    expect(JSON.parse(provider.inputs.sshOpts)).toEqual(dockerProviderSshOpts(pin));
  });

  it("each PidsLimit and MetaMcpSettings carries it for its own ssh", () => {
    const limits = ofType(resources, PIDS);
    expect(limits.length).toBeGreaterThanOrEqual(3);
    expect(limits.map((r) => r.inputs.hostKey)).toEqual(limits.map(() => pin));
    expect(ofType(resources, SETTINGS).map((r) => r.inputs.hostKey)).toEqual([pin]);
  });

  it("PostgresCredentials carries it for the psql it runs in Postgres over the same ssh", () => {
    expect(ofType(resources, CREDENTIALS).map((r) => r.inputs.hostKey)).toEqual([pin]);
  });

  it("each remote Command (slices, keeper) pins it", () => {
    const commands = ofType(resources, "command:remote:Command");
    expect(commands.length).toBeGreaterThanOrEqual(2);
    expect(commands.map((c) => unwrapSecret(c.inputs.connection).hostKey)).toEqual(commands.map(() => pin));
  });
});

describe("the dev stack (a local socket) needs no pin", async () => {
  const { resources } = await declareStack("dev");

  it("declares no ssh options and no hostKey", () => {
    expect(ofType(resources, "pulumi:providers:docker")[0].inputs.sshOpts).toBeUndefined();
    expect(ofType(resources, PIDS).map((r) => r.inputs.hostKey ?? null)).toEqual(ofType(resources, PIDS).map(() => null));
  });
});
