/**
 * The whole pack (policy/policies.ts, what policy/index.ts serves) over the resources the real
 * program declares for each real stack file under mocks: both stacks pass, and deliberately bad
 * configs fail with the policies named.
 */
import { describe, expect, it } from "vitest";
import { policies } from "../../policy/policies";
import { CONTAINER } from "../../policy/resources";
import { declareStack } from "../support/mocks";
import { STACK_NAMES } from "../stack/expectations";
import { blocking, fromDeclared, resource, runPolicies, violatedPolicies } from "./support/harness";

async function judge(stack: string, overrides: Record<string, unknown> = {}) {
  const declared = await declareStack(stack, overrides);
  return fromDeclared(declared.resources, stack);
}

describe.each(STACK_NAMES)("the %s stack as declared", (stack) => {
  it("passes every mandatory policy", async () => {
    expect(blocking(await runPolicies(policies, await judge(stack)))).toEqual([]);
  });

  it("leaves advice only about init and health checks", async () => {
    const advice = (await runPolicies(policies, await judge(stack))).filter((f) => f.level === "advisory");
    expect([...new Set(advice.map((f) => f.policy))]).toEqual(advice.length ? ["container-init-and-healthcheck"] : []);
  });

  it("gives the policies containers, PID limits and images to judge (the adapter lost nothing)", async () => {
    const types = new Set((await judge(stack)).map((r) => r.type));
    expect([...types]).toEqual(
      expect.arrayContaining([CONTAINER, "pulumi-nodejs:dynamic/metamcp-guard:PidsLimit", "docker:index/remoteImage:RemoteImage", "docker:index/volume:Volume"]),
    );
  });
});

describe("deliberately bad configs", () => {
  it("prod with MetaMCP at latest fails prod-images-pinned, naming the image", async () => {
    const findings = await runPolicies(policies, await judge("prod", { "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:latest" } }));
    expect(violatedPolicies(findings)).toEqual(["prod-images-pinned"]);
    expect(blocking(findings)).toEqual([
      "prod-images-pinned: image metamcp-image: ghcr.io/metatool-ai/metamcp:latest uses the tag latest; pin it by digest or an explicit version tag in prod.",
    ]);
  });

  it("dev may run latest (the rule is production's)", async () => {
    const findings = await runPolicies(policies, await judge("dev", { "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:latest" } }));
    expect(blocking(findings)).toEqual([]);
  });

  it("prod with protectData off fails prod-postgres-volume-protected", async () => {
    const findings = await runPolicies(policies, await judge("prod", { "metamcp-guard:protectData": false }));
    expect(blocking(findings)).toEqual(["prod-postgres-volume-protected: volume postgres-data, Postgres's data in prod, is not protected; declare it with protect: true."]);
  });

  it("a container added without any limits fails every limit policy, the PID policy, the image policy and (prod runs in slices) the slice policy", async () => {
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
    const findings = await runPolicies(policies, [...(await judge("prod")), rogue]);
    expect(violatedPolicies(findings)).toEqual([
      "container-cpu-limit",
      "container-log-rotation",
      "container-memory-limit",
      "container-pids-limit",
      "container-restart-policy",
      "container-swap-disabled",
      "containers-in-slices",
      "prod-images-pinned",
    ]);
    expect(new Set(findings.filter((f) => f.level === "mandatory").map((f) => f.urn))).toEqual(new Set([rogue.urn]));
    // Init and health check are advice for a non-MetaMCP container.
    expect(findings.filter((f) => f.level === "advisory" && f.urn === rogue.urn).map((f) => f.policy)).toEqual([
      "container-init-and-healthcheck",
      "container-init-and-healthcheck",
    ]);
  });
});

describe("policy config", () => {
  it("tunes a range: dev's 64 PIDs fail a maximum of 50", async () => {
    const findings = await runPolicies(policies, await judge("dev"), { "container-pids-limit": { maximum: 50 } });
    expect(violatedPolicies(findings)).toEqual(["container-pids-limit"]);
    // MetaMCP's and Postgres's 64; the monitor's 16 is within.
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
    const findings = await runPolicies(policies, await judge("dev", { "metamcp-guard:app": { image: "ghcr.io/metatool-ai/metamcp:latest" } }), {
      "prod-images-pinned": { allStacks: true },
    });
    expect(violatedPolicies(findings)).toEqual(["prod-images-pinned"]);
  });
});
