/** The session guard, as each real stack file declares it under mocks. */
import { beforeAll, describe, expect, it } from "vitest";
import { contextHash, GUARD_CONTEXT } from "../../infra/images/buildContext";
import { declareStack, named, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { STACK_NAMES, STACKS } from "./expectations";

describe.each(STACK_NAMES)("session guard (%s)", (stack) => {
  const want = STACKS[stack];
  let declared: DeclaredStack;
  let container: RecordedResource["inputs"];

  beforeAll(async () => {
    declared = await declareStack(stack);
    container = named(declared.resources, "guard-container").inputs;
  });

  it("is named after the stack", () => {
    expect(container.name).toBe(`metamcp-${stack}-guard`);
  });

  it("publishes MetaMCP's port on MetaMCP's address, and its metrics on the host's loopback two ports up", () => {
    expect(container.ports).toEqual([
      { internal: 12008, external: 12008, ip: want.bindAddress },
      { internal: 9465, external: 12010, ip: "127.0.0.1" },
    ]);
  });

  it("forwards to MetaMCP by its container name on their shared network", () => {
    expect(container.envs).toContain(`GUARD_UPSTREAM=http://metamcp-${stack}:12008`);
  });

  it("joins MetaMCP's frontend network only", () => {
    expect(container.networksAdvanced.map((n: { name: string }) => n.name)).toEqual([`metamcp-${stack}-frontend`]);
  });

  it("ends sessions idle for the stack's idle timeout", () => {
    expect(container.envs).toContain(`GUARD_IDLE_TIMEOUT=${want.guardIdleTimeout}`);
  });

  it("runs as a non-root user", () => {
    expect(container.user).toBe("1000:1000");
  });

  it("drops every capability and adds none", () => {
    expect(container.capabilities).toEqual({ drops: ["ALL"] });
  });

  it("has a read-only root filesystem", () => {
    expect(container.readOnly).toBe(true);
  });

  it("cannot gain privileges", () => {
    expect(container.securityOpts).toEqual(["no-new-privileges:true"]);
  });

  it("has its own memory cap, swap off", () => {
    expect({ memory: container.memory, memorySwap: container.memorySwap }).toEqual({ memory: 256, memorySwap: 256 });
  });

  it("gets its PID cap from a PID-limit resource attached to its container id", () => {
    expect(named(declared.resources, "guard-pids").inputs).toMatchObject({ containerId: "guard-container-id", limit: 32 });
  });

  it("checks its own /healthz", () => {
    expect(container.healthcheck.tests).toEqual(["CMD", "node", "/app/dist/healthcheck.js"]);
  });

  it("restarts always", () => {
    expect(container.restart).toBe("always");
  });

  it("gets 10 s to drain open requests on stop and on replacement", () => {
    expect({ stopTimeout: container.stopTimeout, destroyGraceSeconds: container.destroyGraceSeconds }).toEqual({ stopTimeout: 10, destroyGraceSeconds: 10 });
  });

  it("is built from guard/ with a tag that changes with the code", () => {
    expect(named(declared.resources, "guard-image").inputs).toMatchObject({
      imageName: `metamcp-${stack}-guard:${contextHash(GUARD_CONTEXT)}`,
      skipPush: true,
    });
  });

  it("starts after MetaMCP", () => {
    expect(named(declared.resources, "guard-container").options.dependencies.some((urn) => urn.endsWith("::metamcp-container"))).toBe(true);
  });

  it("frees its fixed name before a replacement takes it", () => {
    expect(named(declared.resources, "guard-container").options.deleteBeforeReplace).toBe(true);
  });
});

describe("the session guard is optional", () => {
  let declared: DeclaredStack;

  beforeAll(async () => {
    declared = await declareStack("dev", { "metamcp-guard:guard": { enabled: false } });
  });

  it("declares no guard resources when disabled", () => {
    expect(declared.resources.filter((r) => r.name.startsWith("guard"))).toEqual([]);
  });

  it("lets MetaMCP publish its port itself then", () => {
    expect(named(declared.resources, "metamcp-container").inputs.ports).toEqual([{ internal: 12008, external: 12008, ip: "127.0.0.1" }]);
  });
});
