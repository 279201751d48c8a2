/**
 * The stack with slices on, under mocks: the Commands it declares are HostSlices' own (the ones
 * the systemd-host test runs over SSH), and each container is placed in its slice and ordered
 * after it.
 */
import { describe, expect, it } from "vitest";
import { MonitorKeeper } from "../../infra/host/keeper";
import { keeperApplyScript, keeperDeleteScript } from "../../infra/host/keeperUnits";
import { planSlices } from "../../infra/host/plan";
import { remoteCommand } from "../../infra/host/shell";
import { declareStack, ofType, unwrapSecret, waitForRegistrations } from "../support/mocks";
import { TEST_SECRETS } from "../support/stackFiles";
import { declareHostSlices } from "./declare";

const SLICES_ON = {
  "metamcp-guard:host": { slices: { enabled: true }, ssh: { host: "10.0.0.5", user: "deploy" } },
  "metamcp-guard:sshPrivateKey": TEST_SECRETS["metamcp-guard:sshPrivateKey"],
};

describe("the prod stack with host slices", () => {
  it("declares the slices' Commands exactly as HostSlices does", async () => {
    const { config, resources } = await declareStack("prod", SLICES_ON);
    const fromStack = ofType(resources, "command:remote:Command").filter((c) => c.name.endsWith(".slice"));
    const { commands: fromComponent } = await declareHostSlices(config, TEST_SECRETS["metamcp-guard:sshPrivateKey"]);
    expect(fromStack.map((c) => c.inputs.create)).toEqual(fromComponent.map((c) => c.inputs.create));
    expect(fromStack.map((c) => c.inputs.delete)).toEqual(fromComponent.map((c) => c.inputs.delete));
    // The parent, and one for each of MetaMCP, Postgres, the monitor and the session guard.
    expect(fromStack).toHaveLength(5);
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

describe("the prod stack's monitor keeper", () => {
  it("declares one Command, after the monitor, carrying the keeper's scripts for the stack's container names", async () => {
    const { config, resources } = await declareStack("prod");
    expect(config.host.keeper).toEqual({ enabled: true, interval: 10 });
    const keepers = ofType(resources, "command:remote:Command").filter((c) => c.name.startsWith("keeper-"));
    expect(keepers.map((c) => c.name)).toEqual(["keeper-metamcp-prod-monitor-keeper.timer"]);
    const [keeper] = keepers;
    const spec = { stack: "prod", monitor: "metamcp-prod-monitor", app: "metamcp-prod", intervalSeconds: 10 };
    expect(keeper.inputs.create).toBe(remoteCommand(keeperApplyScript(spec), "deploy"));
    expect(keeper.inputs.update).toBe(keeper.inputs.create);
    expect(keeper.inputs.delete).toBe(remoteCommand(keeperDeleteScript(spec), "deploy"));
    expect(unwrapSecret(unwrapSecret(keeper.inputs.connection).privateKey)).toBe(TEST_SECRETS["metamcp-guard:sshPrivateKey"]);
    expect(keeper.inputs.addPreviousOutputInEnv).toBe(false);
    expect(keeper.options.deleteBeforeReplace).toBe(true);
    expect(keeper.options.parent).toMatch(/MonitorKeeper::keeper$/);
    // Created after the monitor (and so deleted before it: it never starts a monitor being removed).
    // (Depending on the ProcessMonitor component means depending on every resource in it.)
    expect(keeper.options.dependencies.some((urn) => urn.endsWith("::monitor-container")), keeper.options.dependencies.join(" ")).toBe(true);
  });

  it("refuses to declare the keeper without SSH settings or a key, naming the switch", async () => {
    const { config } = await declareStack("prod");
    const containers = { monitor: "m", app: "a" };
    expect(() => new MonitorKeeper("k1", { settings: config, containers })).toThrow("host.keeper.enabled is true but no sshPrivateKey was given");
    const noSsh = { ...config, host: { ...config.host, ssh: undefined } };
    expect(() => new MonitorKeeper("k2", { settings: noSsh, containers, privateKey: "x" })).toThrow("host.keeper.enabled is true but host.ssh is not set");
    await waitForRegistrations();
  });

  it("declares none when the keeper or the monitor is off", async () => {
    for (const overrides of [{ "metamcp-guard:host": { keeper: { enabled: false } } }, { "metamcp-guard:monitor": { enabled: false } }]) {
      const { resources } = await declareStack("prod", overrides);
      expect(ofType(resources, "command:remote:Command").filter((c) => c.name.startsWith("keeper-")), JSON.stringify(overrides)).toEqual([]);
    }
  });
});

describe("the dev stack (slices off, no SSH host)", () => {
  it("declares no Command (no slice, no keeper) and no cgroupParent", async () => {
    const { resources } = await declareStack("dev");
    expect(ofType(resources, "command:remote:Command")).toEqual([]);
    for (const container of ofType(resources, "docker:index/container:Container")) expect(container.inputs.cgroupParent).toBeUndefined();
  });
});
