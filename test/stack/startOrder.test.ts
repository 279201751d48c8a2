/**
 * No container of a stack runs uncapped: each is created stopped, and the PidsLimit attached to it starts it
 * once the cap (and memory, swap) is in force. Under mocks, for every real stack file and every container.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, named, type DeclaredStack } from "../support/mocks";
import { STACK_NAMES } from "./expectations";

const MIB = 1024 * 1024;
const COMPONENTS = ["postgres", "metamcp", "monitor"] as const;

describe.each(STACK_NAMES)("start order (%s)", (stack) => {
  let declared: DeclaredStack;
  beforeAll(async () => {
    declared = await declareStack(stack);
  });
  const container = (component: string) => named(declared.resources, `${component}-container`);
  const pids = (component: string) => named(declared.resources, `${component}-pids`);
  const dependsOn = (component: string, resource: string) =>
    container(component).options.dependencies.some((urn) => urn.endsWith(`::${resource}`));

  describe.each(COMPONENTS)("%s", (component) => {
    it("the container is created stopped", () => {
      expect(container(component).inputs.start).toBe(false);
    });

    it("the provider does not keep it running itself (a stopped container would be a diff on every preview)", () => {
      expect(container(component).inputs.mustRun).toBe(false);
    });

    it("its PidsLimit starts it", () => {
      expect(pids(component).inputs.running).toBe(true);
    });

    it("its PidsLimit caps that container", () => {
      expect(pids(component).inputs.containerId).toBe(`${component}-container-id`);
    });

    it("its PidsLimit sends the container's own memory, in bytes, with every update", () => {
      expect(pids(component).inputs.memory).toBe(container(component).inputs.memory * MIB);
    });

    it("its PidsLimit sends the container's own memory+swap, in bytes, with every update", () => {
      expect(pids(component).inputs.memorySwap).toBe(container(component).inputs.memorySwap * MIB);
    });
  });

  it("MetaMCP is created once Postgres runs (after Postgres's PidsLimit started it)", () => {
    expect(dependsOn("metamcp", "postgres-pids")).toBe(true);
  });

  it("the monitor is created once MetaMCP runs: it joins MetaMCP's PID namespace", () => {
    expect(dependsOn("monitor", "metamcp-pids")).toBe(true);
  });
});
