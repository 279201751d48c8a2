/** What `pulumi stack output` shows the operator. */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, named, valueOf, type DeclaredStack } from "../support/mocks";

describe("prod stack outputs", () => {
  let declared: DeclaredStack;

  beforeAll(async () => {
    declared = await declareStack("prod");
  });

  it("give the public URL", async () => {
    expect(await valueOf(declared.outputs.url)).toBe("https://metamcp.example.com");
  });

  it("name the containers", async () => {
    expect({
      metamcp: await valueOf(declared.outputs.containers.metamcp),
      database: await valueOf(declared.outputs.containers.database),
    }).toEqual({ metamcp: "metamcp-prod", database: "metamcp-prod-postgres" });
  });

  it("name the data volume", async () => {
    expect(await valueOf(declared.outputs.dataVolume!)).toBe("metamcp-prod-pgdata");
  });

  it("show MetaMCP's effective limits in the units they were written in", () => {
    expect(declared.outputs.limits.app).toEqual({ memory: "4g", memorySwap: "4g", swap: "0b", cpus: 2, pids: 577 });
  });
});

describe("a stack behind a reverse proxy", () => {
  const PROXY = { "metamcp-guard:proxy": { network: "traefik", labels: { "traefik.enable": "true" } } };
  const joined = (resources: DeclaredStack["resources"], name: string) =>
    named(resources, name).inputs.networksAdvanced.map((n: { name: string }) => n.name);
  let declared: DeclaredStack;

  beforeAll(async () => {
    declared = await declareStack("dev", PROXY);
  });

  it("puts the session guard on the proxy's existing network, without declaring it", () => {
    expect({
      joined: joined(declared.resources, "guard-container"),
      declared: declared.resources.filter((r) => r.inputs.name === "traefik").length,
    }).toEqual({ joined: ["metamcp-dev-frontend", "traefik"], declared: 0 });
  });

  it("keeps MetaMCP off the proxy's network: the proxy reaches it only through the guard", () => {
    expect(joined(declared.resources, "metamcp-container")).toEqual(["metamcp-dev-frontend", "metamcp-dev-backend"]);
  });

  it("puts the proxy's labels on the guard's container, not MetaMCP's", () => {
    expect({
      guard: named(declared.resources, "guard-container").inputs.labels,
      metamcp: named(declared.resources, "metamcp-container").inputs.labels,
    }).toEqual({
      guard: expect.arrayContaining([{ label: "traefik.enable", value: "true" }]),
      metamcp: expect.not.arrayContaining([{ label: "traefik.enable", value: "true" }]),
    });
  });

  it("tells the guard to keep the proxy's X-Forwarded-* headers", () => {
    expect(named(declared.resources, "guard-container").inputs.envs).toContain("GUARD_TRUST_FORWARDED=true");
  });

  it("without the guard, MetaMCP joins the proxy's network and carries its labels itself", async () => {
    const unguarded = await declareStack("dev", { ...PROXY, "metamcp-guard:guard": { enabled: false } });
    expect({
      joined: joined(unguarded.resources, "metamcp-container"),
      labelled: named(unguarded.resources, "metamcp-container").inputs.labels,
    }).toEqual({
      joined: ["metamcp-dev-frontend", "metamcp-dev-backend", "traefik"],
      labelled: expect.arrayContaining([{ label: "traefik.enable", value: "true" }]),
    });
  });
});
