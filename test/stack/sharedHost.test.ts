/**
 * Several stacks on one Docker host (issue 13): dev, staging and prod declared for the same dockerHost and
 * the same host.ssh, staging and prod from the prod stack file, each with its own app.port. Under mocks,
 * nothing host-side may be shared between them: no container, volume, network or built image name, no
 * published port, no slice unit and no keeper unit or script. (The pulled images are shared by name, which
 * is safe only because every stack keeps them locally when it goes: checked too.)
 */
import { describe, expect, it } from "vitest";
import { keeperNames } from "../../infra/host/keeperUnits";
import { planSlices, slicesOf } from "../../infra/host/plan";
import { sliceCgroupPath } from "../../infra/host/names";
import { declareStack, ofType, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { readStackFile, REPO_ROOT, TEST_SECRETS } from "../support/stackFiles";
import { join } from "node:path";

const PROD_FILE = join(REPO_ROOT, "Pulumi.prod.yaml");
const prodFile = readStackFile("prod");
const ONE_HOST = {
  "metamcp-guard:dockerHost": prodFile["metamcp-guard:dockerHost"],
  "metamcp-guard:host": { ...JSON.parse(prodFile["metamcp-guard:host"]), slices: { enabled: true } },
  "metamcp-guard:sshPrivateKey": TEST_SECRETS["metamcp-guard:sshPrivateKey"],
};

/** What one stack puts on the host, by kind; each entry names one thing (its value must be unique across stacks). */
function hostSide(stack: DeclaredStack): Record<string, string[]> {
  const names = (type: string, pick: (r: RecordedResource) => unknown) => ofType(stack.resources, type).map((r) => String(pick(r)));
  const plan = planSlices(stack.config);
  const keeper = keeperNames({ stack: stack.config.stack, monitor: `${stack.config.namePrefix}-monitor`, app: stack.config.namePrefix, intervalSeconds: 10 });
  return {
    container: names("docker:index/container:Container", (r) => r.inputs.name),
    volume: names("docker:index/volume:Volume", (r) => r.inputs.name),
    network: names("docker:index/network:Network", (r) => r.inputs.name),
    "built image": names("docker:index/image:Image", (r) => r.inputs.imageName),
    "published port": ofType(stack.resources, "docker:index/container:Container").flatMap((r) => (r.inputs.ports ?? []).map((p: { external: number }) => String(p.external))),
    "slice unit": slicesOf(plan).map((s) => s.unit),
    "slice unit (from its Command)": ofType(stack.resources, "command:remote:Command").filter((c) => c.name.endsWith(".slice")).map((c) => c.name.replace(/^host-/, "")),
    "keeper unit": [keeper.service, keeper.timer, keeper.script],
    "keeper unit (from its Command)": ofType(stack.resources, "command:remote:Command").filter((c) => c.name.startsWith("keeper-")).map((c) => c.name.replace(/^keeper-/, "")),
  };
}

describe("dev, staging and prod on one Docker host", async () => {
  const stacks = {
    dev: await declareStack("dev", { ...ONE_HOST, "metamcp-guard:app": { port: 14008 } }),
    staging: await declareStack("staging", { ...ONE_HOST, "metamcp-guard:app": { port: 13008, publicUrl: "https://staging.metamcp.example.com" } }, PROD_FILE),
    prod: await declareStack("prod", ONE_HOST, PROD_FILE),
  };
  const sides = Object.fromEntries(Object.entries(stacks).map(([name, stack]) => [name, hostSide(stack)]));

  it("are declared for the same host, with slices and the keeper on", () => {
    expect(Object.values(stacks).map((s) => [s.config.dockerHost, s.config.host.ssh?.host, s.config.host.slices.enabled, s.config.host.keeper.enabled])).toEqual([
      [ONE_HOST["metamcp-guard:dockerHost"], "metamcp.example.internal", true, true],
      [ONE_HOST["metamcp-guard:dockerHost"], "metamcp.example.internal", true, true],
      [ONE_HOST["metamcp-guard:dockerHost"], "metamcp.example.internal", true, true],
    ]);
  });

  it.each(["container", "volume", "network", "built image", "published port", "slice unit", "slice unit (from its Command)", "keeper unit", "keeper unit (from its Command)"])(
    "share no %s",
    (kind) => {
      const owners = new Map<string, string[]>();
      for (const [stack, side] of Object.entries(sides)) {
        expect(side[kind].length, `${stack} declares some ${kind}`).toBeGreaterThan(0);
        for (const value of side[kind]) owners.set(value, [...(owners.get(value) ?? []), stack]);
      }
      expect([...owners].filter(([, by]) => by.length > 1)).toEqual([]);
    },
  );

  it("publish on the ports each stack derives from its own app.port (monitor +1, guard +2)", () => {
    expect(Object.fromEntries(Object.entries(sides).map(([stack, side]) => [stack, [...side["published port"]].sort()]))).toEqual({
      dev: ["14008", "14009", "14010"],
      staging: ["13008", "13009", "13010"],
      prod: ["12008", "12009", "12010"],
    });
  });

  it("nest their slices side by side, none inside another's (systemd's dash rule)", () => {
    const parents = Object.values(stacks).map((s) => planSlices(s.config).parent.unit);
    expect(parents).toEqual(["metamcp-dev.slice", "metamcp-staging.slice", "metamcp-prod.slice"]);
    for (const [stack, side] of Object.entries(sides)) {
      const others = Object.entries(sides).filter(([name]) => name !== stack).flatMap(([, s]) => s["slice unit"]);
      for (const unit of side["slice unit"]) {
        const ancestors = sliceCgroupPath(unit).split("/").filter(Boolean).slice(0, -1);
        expect(ancestors.filter((a) => others.includes(a)), `${unit} of ${stack}`).toEqual([]);
      }
    }
  });

  it("share pulled images by name only where every stack keeps them when it goes", () => {
    const pulled = Object.values(stacks).flatMap((s) => ofType(s.resources, "docker:index/remoteImage:RemoteImage"));
    expect(pulled.length).toBeGreaterThan(0);
    expect(pulled.filter((r) => r.inputs.keepLocally !== true).map((r) => r.inputs.name)).toEqual([]);
  });
});
