/** The MetaMCP container, as each real stack file declares it under mocks. */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, named, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { STACK_NAMES, STACKS } from "./expectations";

describe.each(STACK_NAMES)("MetaMCP container (%s)", (stack) => {
  const want = STACKS[stack];
  let declared: DeclaredStack;
  let container: RecordedResource["inputs"];

  beforeAll(async () => {
    declared = await declareStack(stack);
    container = named(declared.resources, "metamcp-container").inputs;
  });

  it("has the memory cap in MiB", () => {
    expect(container.memory).toBe(want.app.memoryMiB);
  });

  it("has swap disabled: memorySwap set and equal to memory", () => {
    expect(container.memorySwap).toBe(container.memory);
  });

  it("has the CPU cap", () => {
    expect(container.cpus).toBe(want.app.cpus);
  });

  it("gets 30 s to stop its backend and frontend, on docker stop and on replacement", () => {
    expect({ stopTimeout: container.stopTimeout, destroyGraceSeconds: container.destroyGraceSeconds }).toEqual({ stopTimeout: 30, destroyGraceSeconds: 30 });
  });

  it("runs tini as PID 1 to reap zombies", () => {
    expect(container.init).toBe(true);
  });

  it("has a restart policy that brings it back", () => {
    expect(container.restart).toBe("unless-stopped");
  });

  it("checks health on /health with Node's own fetch", () => {
    expect(container.healthcheck.tests.join(" ")).toContain("http://localhost:12008/health");
  });

  it("rotates its json-file logs", () => {
    expect({ driver: container.logDriver, opts: container.logOpts }).toEqual({ driver: "json-file", opts: want.logs });
  });

  it("cannot gain privileges", () => {
    expect(container.securityOpts).toEqual(["no-new-privileges:true"]);
  });

  it("publishes MetaMCP's port on the configured address only", () => {
    expect(container.ports).toEqual([{ internal: 12008, external: 12008, ip: want.bindAddress }]);
  });

  it("is labelled with its stack and role", () => {
    expect(container.labels).toEqual(
      expect.arrayContaining([
        { label: "metamcp-guard.stack", value: stack },
        { label: "metamcp-guard.role", value: "app" },
      ]),
    );
  });

  it("runs the pulled image by id, so a new image replaces the container", () => {
    expect(container.image).toBe("sha256:metamcp-image");
  });

  it("keeps the pulled image on the host", () => {
    expect(named(declared.resources, "metamcp-image").inputs.keepLocally).toBe(true);
  });

  it("joins the stack's networks", () => {
    expect(container.networksAdvanced.map((n: { name: string }) => n.name)).toEqual([
      `metamcp-${stack}-frontend`,
      `metamcp-${stack}-backend`,
    ]);
  });

  it("gets its PID cap from a PID-limit resource attached to its container id", () => {
    expect(named(declared.resources, "metamcp-pids").inputs).toMatchObject({
      containerId: "metamcp-container-id",
      limit: want.app.pids,
    });
  });
});
