/** What `pulumi stack output` shows the operator. */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, valueOf, type DeclaredStack } from "../support/mocks";

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
  let declared: DeclaredStack;

  beforeAll(async () => {
    declared = await declareStack("dev", {
      "metamcp-guard:proxy": { network: "traefik", labels: { "traefik.enable": "true" } },
    });
  });

  it("joins the proxy's existing network without declaring it", () => {
    const container = declared.resources.find((r) => r.name === "metamcp-container")!;
    expect({
      joined: container.inputs.networksAdvanced.map((n: { name: string }) => n.name),
      declared: declared.resources.filter((r) => r.inputs.name === "traefik").length,
    }).toEqual({ joined: ["metamcp-dev-frontend", "metamcp-dev-backend", "traefik"], declared: 0 });
  });

  it("puts the proxy's labels on MetaMCP's container", () => {
    const container = declared.resources.find((r) => r.name === "metamcp-container")!;
    expect(container.inputs.labels).toContainEqual({ label: "traefik.enable", value: "true" });
  });
});
