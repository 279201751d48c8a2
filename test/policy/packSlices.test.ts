/**
 * The whole pack over the prod stack file, which turns systemd slices on, as the real program
 * declares it under mocks: HostSlices' Commands and the containers placed in their slices.
 */
import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { policies } from "../../policy/policies";
import { CONTAINER } from "../../policy/resources";
import { containersInSlices, sliceCapsCoverContainers } from "../../policy/slices";
import { declareStack } from "../support/mocks";
import { blocking, editProps, fromDeclared, newBlocking, runPolicies, validateStack } from "./support/harness";

async function slicedProd(): Promise<PolicyResource[]> {
  const declared = await declareStack("prod");
  // The premise of every test below: the stack file really turns slices on.
  expect(declared.config.host.slices.enabled).toBe(true);
  return fromDeclared(declared.resources, "prod");
}

/** `resources` with one container's properties changed in place (a synthetic edit of what the program declared). */
function withContainer(resources: PolicyResource[], name: string, change: Record<string, unknown>): PolicyResource[] {
  const target = resources.find((r) => r.type === CONTAINER && r.name === name)!;
  editProps(target, (props) => {
    const changed: Record<string, unknown> = { ...props, ...change };
    for (const [key, value] of Object.entries(change)) if (value === undefined) delete changed[key];
    return changed;
  });
  return resources;
}

describe("the prod stack, in its systemd slices", () => {
  it("passes every mandatory policy but the findings still open elsewhere", async () => {
    expect(blocking(await runPolicies(policies, await slicedProd()))).toEqual([]);
  });

  it("is judged by the slice policies (they apply, and pass)", async () => {
    const resources = await slicedProd();
    expect([await validateStack(containersInSlices, resources), await validateStack(sliceCapsCoverContainers, resources)]).toEqual([
      { violations: [] },
      { violations: [] },
    ]);
  });

  it("fails when a container is taken out of its slice", async () => {
    const resources = withContainer(await slicedProd(), "metamcp-container", { cgroupParent: undefined });
    const findings = newBlocking(await runPolicies(policies, await slicedProd()), await runPolicies(policies, resources));
    expect(findings).toEqual([expect.stringMatching(/^containers-in-slices: metamcp-container \(metamcp-prod\) has no cgroupParent/)]);
  });

  it("fails when a container outgrows its slice", async () => {
    const resources = withContainer(await slicedProd(), "metamcp-container", { memory: 8192, memorySwap: 8192 });
    const findings = newBlocking(await runPolicies(policies, await slicedProd()), await runPolicies(policies, resources));
    expect(findings).toEqual([
      expect.stringMatching(/^slice-caps-cover-containers: metamcp-prod\.slice is smaller than/),
      expect.stringMatching(/^slice-caps-cover-containers: metamcp-prod-app\.slice is smaller than metamcp-container \(metamcp-prod\): MemoryMax/),
    ]);
  });
});
