/**
 * The whole pack (policy/policies.ts, what policy/index.ts serves) over the resources the real
 * program declares for each real stack file under mocks: both stacks pass, and deliberately bad
 * configs fail with the policies named.
 */
import { describe, expect, it } from "vitest";
import { policies } from "../../policy/policies";
import { CONTAINER, declaresProduction } from "../../policy/resources";
import { declareStack } from "../support/mocks";
import { STACK_NAMES } from "../stack/expectations";
import { blocking, fromDeclared, newBlocking, resource, runPolicies, violatedPolicies } from "./support/harness";

async function judge(stack: string, overrides: Record<string, unknown> = {}) {
  const declared = await declareStack(stack, overrides);
  return fromDeclared(declared.resources, stack);
}

describe.each(STACK_NAMES)("the %s stack as declared", (stack) => {
  it("passes every mandatory policy but the findings still open elsewhere", async () => {
    expect(blocking(await runPolicies(policies, await judge(stack)))).toEqual([]);
  });

  it("leaves advice only about init and health checks", async () => {
    const advice = (await runPolicies(policies, await judge(stack))).filter((f) => f.level === "advisory");
    expect([...new Set(advice.map((f) => f.policy))]).toEqual(advice.length ? ["container-init-and-healthcheck"] : []);
  });

  it("says it is production on every container exactly when its file sets metamcp-guard:production", async () => {
    const declared = await declareStack(stack);
    const containers = fromDeclared(declared.resources, stack).filter((r) => r.type === CONTAINER);
    expect({ setting: declared.config.production, labelled: containers.map((c) => declaresProduction([c])) }).toEqual({
      setting: stack === "prod",
      labelled: containers.map(() => stack === "prod"),
    });
  });

  it("gives the policies containers, PID limits and images to judge (the adapter lost nothing)", async () => {
    const types = new Set((await judge(stack)).map((r) => r.type));
    expect([...types]).toEqual(
      expect.arrayContaining([CONTAINER, "pulumi-nodejs:dynamic/metamcp-guard:PidsLimit", "docker:index/remoteImage:RemoteImage", "docker:index/volume:Volume"]),
    );
  });

  it("gives them what each value is computed from and each container's provider, as the engine does", async () => {
    const resources = await judge(stack);
    const pids = resources.find((r) => r.name === "metamcp-pids")!;
    const app = resources.find((r) => r.name === "metamcp-container")!;
    expect({
      containerId: pids.propertyDependencies.containerId?.map((d) => d.name),
      image: app.propertyDependencies.image?.map((d) => d.name),
      provider: app.provider && { type: app.provider.type, host: app.provider.props.host },
    }).toEqual({
      containerId: ["metamcp-container"],
      image: ["metamcp-image"],
      provider: { type: "pulumi:providers:docker", host: expect.stringMatching(/^(unix|ssh):\/\//) },
    });
  });
});

/** The blocking findings a config change brings to a stack, beside those the stack file already has. */
async function brought(stack: string, overrides: Record<string, unknown>, config = {}) {
  return newBlocking(await runPolicies(policies, await judge(stack)), await runPolicies(policies, await judge(stack, overrides), config));
}

describe("deliberately bad configs", () => {
  // The program itself refuses latest in a stack that says it is production, before the pack
  // sees anything; prod's name is the pack's safety net for a stack file that forgets to say so.
  it("prod whose file forgets metamcp-guard:production, with MetaMCP at latest, fails prod-images-pinned by its name, naming the image", async () => {
    expect(await brought("prod", { "metamcp-guard:production": false, "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:latest" } })).toEqual([
      "prod-images-pinned: image metamcp-image: ghcr.io/metatool-ai/metamcp:latest uses the tag latest; pin it by digest or an explicit version tag in prod.",
    ]);
  });

  it("dev may run latest (the rule is production's)", async () => {
    expect(await brought("dev", { "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:latest" } })).toEqual([]);
  });

  it("dev saying metamcp-guard:production: true gets production's rules: outside slices, it fails prod-slices-enabled", async () => {
    expect(await brought("dev", { "metamcp-guard:production": true })).toEqual([
      expect.stringMatching(/^prod-slices-enabled: dev runs its containers outside systemd slices/),
    ]);
  });

  it("prod with protectData off fails prod-postgres-volume-protected", async () => {
    expect(await brought("prod", { "metamcp-guard:protectData": false })).toEqual([
      "prod-postgres-volume-protected: volume postgres-data, Postgres's data in prod, is not protected; declare it with protect: true.",
    ]);
  });

  it("a container added without any limits or labels' behaviour fails every limit policy, the PID policy, no-new-privileges, the role check, the image policy and (prod runs in slices) the slice policy", async () => {
    const rogue = resource({
      type: CONTAINER,
      name: "rogue",
      stack: "prod",
      props: {
        image: "busybox",
        labels: [
          { label: "metamcp-guard.stack", value: "prod" },
          { label: "metamcp-guard.role", value: "monitor" },
        ],
      },
    });
    const before = await runPolicies(policies, await judge("prod"));
    const findings = await runPolicies(policies, [...(await judge("prod")), rogue]);
    const added = findings.filter((f) => f.level === "mandatory" && !blocking(before).includes(`${f.policy}: ${f.message}`));
    expect([...new Set(added.map((f) => f.policy))].sort()).toEqual([
      "container-cpu-limit",
      "container-log-rotation",
      "container-memory-limit",
      "container-no-new-privileges",
      "container-pids-limit",
      "container-restart-policy",
      "container-roles-match-behaviour",
      "container-swap-disabled",
      "containers-in-slices",
      // Labelled monitor, on Docker's default bridge.
      "monitor-not-exposed",
      "prod-images-pinned",
    ]);
    expect(new Set(added.map((f) => f.urn))).toEqual(new Set([rogue.urn]));
    // Init and health check are advice for a non-MetaMCP container.
    expect(findings.filter((f) => f.level === "advisory" && f.urn === rogue.urn).map((f) => f.policy)).toEqual([
      "container-init-and-healthcheck",
      "container-init-and-healthcheck",
    ]);
  });
});

describe("policy config", () => {
  it("tunes a range: dev's 232 (MetaMCP) and 64 (Postgres) PIDs fail a maximum of 50", async () => {
    const findings = await runPolicies(policies, await judge("dev"), { "container-pids-limit": { maximum: 50 } });
    expect(violatedPolicies(findings)).toEqual(["container-pids-limit"]);
    // MetaMCP's and Postgres's; the monitor's 16 is within.
    expect(findings.filter((f) => f.policy === "container-pids-limit").map((f) => f.message)).toEqual([
      expect.stringContaining("postgres-pids caps"),
      expect.stringContaining("metamcp-pids caps"),
    ]);
  });

  it("turns a policy off", async () => {
    const config = { "container-pids-limit": { maximum: 50, enforcementLevel: "disabled" as const } };
    expect((await runPolicies(policies, await judge("dev"), config)).filter((f) => f.policy === "container-pids-limit")).toEqual([]);
  });

  it("downgrades a policy to advisory, which no longer blocks", async () => {
    const findings = await runPolicies(policies, await judge("prod", { "metamcp-guard:protectData": false }), { "prod-postgres-volume-protected": "advisory" });
    expect({ blocking: blocking(findings), advisory: findings.filter((f) => f.level === "advisory").map((f) => f.policy) }).toEqual({
      blocking: [],
      advisory: expect.arrayContaining(["prod-postgres-volume-protected"]),
    });
  });

  it("holds dev to production's rules with allStacks", async () => {
    const findings = await brought("dev", { "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:latest" } }, { "prod-images-pinned": { allStacks: true } });
    expect(findings).toEqual([expect.stringMatching(/^prod-images-pinned: image metamcp-image/)]);
  });
});
