/**
 * The stack with slices on, under mocks: the Commands it declares are HostSlices' own (the ones
 * the systemd-host test runs over SSH), and each container is placed in its slice and ordered
 * after it.
 */
import { describe, expect, it } from "vitest";
import { planSlices } from "../../infra/host/plan";
import { declareStack, ofType, unwrapSecret } from "../support/mocks";
import { TEST_SECRETS } from "../support/stackFiles";
import { declareHostSlices } from "./declare";

const SLICES_ON = {
  "metamcp-guard:host": { slices: { enabled: true }, ssh: { host: "10.0.0.5", user: "deploy" } },
  "metamcp-guard:sshPrivateKey": TEST_SECRETS["metamcp-guard:sshPrivateKey"],
};

describe("the prod stack with host slices", () => {
  it("declares the slices' Commands exactly as HostSlices does", async () => {
    const { config, resources } = await declareStack("prod", SLICES_ON);
    const fromStack = ofType(resources, "command:remote:Command");
    const { commands: fromComponent } = await declareHostSlices(config, TEST_SECRETS["metamcp-guard:sshPrivateKey"]);
    expect(fromStack.map((c) => c.inputs.create)).toEqual(fromComponent.map((c) => c.inputs.create));
    expect(fromStack.map((c) => c.inputs.delete)).toEqual(fromComponent.map((c) => c.inputs.delete));
    expect(fromStack).toHaveLength(4);
    expect(unwrapSecret(unwrapSecret(fromStack[0].inputs.connection).privateKey)).toBe(TEST_SECRETS["metamcp-guard:sshPrivateKey"]);
  });

  it("places each container in its slice, after the slice exists", async () => {
    const { config, resources } = await declareStack("prod", SLICES_ON);
    const wanted = planSlices(config).cgroupParents;
    const commands = ofType(resources, "command:remote:Command");
    const containers = ofType(resources, "docker:index/container:Container");
    expect(containers.length).toBeGreaterThanOrEqual(2);
    for (const container of containers) {
      const role = (container.inputs.labels as Array<{ label: string; value: string }>).find((l) => l.label === "metamcp-guard.role")!.value as keyof typeof wanted;
      expect(container.inputs.cgroupParent, container.name).toBe(wanted[role]);
      const slice = commands.find((c) => c.name.endsWith(`-${wanted[role]}`))!;
      expect(container.options.dependencies.some((urn) => urn.endsWith(`::${slice.name}`)), container.name).toBe(true);
    }
  });

});

describe("the dev stack (slices off)", () => {
  it("declares no Command and no cgroupParent", async () => {
    const { resources } = await declareStack("dev");
    expect(ofType(resources, "command:remote:Command")).toEqual([]);
    for (const container of ofType(resources, "docker:index/container:Container")) expect(container.inputs.cgroupParent).toBeUndefined();
  });
});
