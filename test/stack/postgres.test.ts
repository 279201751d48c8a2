/** Postgres, its data volume and its networks, as each real stack file declares them under mocks. */
import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, named, ofType, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { STACK_NAMES, STACKS, VOLUME } from "./expectations";

describe.each(STACK_NAMES)("Postgres (%s)", (stack) => {
  const want = STACKS[stack];
  let declared: DeclaredStack;
  let container: RecordedResource["inputs"];

  beforeAll(async () => {
    declared = await declareStack(stack);
    container = named(declared.resources, "postgres-container").inputs;
  });

  it("has its own memory cap", () => {
    expect(container.memory).toBe(want.db.memoryMiB);
  });

  it("has swap disabled", () => {
    expect(container.memorySwap).toBe(container.memory);
  });

  it("has its own CPU cap", () => {
    expect(container.cpus).toBe(want.db.cpus);
  });

  it("has its own PID cap", () => {
    expect(named(declared.resources, "postgres-pids").inputs).toMatchObject({
      containerId: "postgres-container-id",
      limit: want.db.pids,
    });
  });

  it("runs under init", () => {
    expect(container.init).toBe(true);
  });

  it("gets a minute to shut down cleanly on docker stop", () => {
    expect(container.stopTimeout).toBe(60);
  });

  it("gets the same minute when Pulumi replaces or deletes it, instead of a kill", () => {
    expect(container.destroyGraceSeconds).toBe(60);
  });

  it("has a lock that refuses a rename of its data volume at preview", () => {
    expect(named(declared.resources, "postgres-volume-lock").inputs).toMatchObject({ volumeName: `metamcp-${stack}-pgdata`, acceptNewVolume: false });
  });

  it("checks health with pg_isready", () => {
    expect(container.healthcheck.tests).toEqual(["CMD-SHELL", "pg_isready -U metamcp_user -d metamcp_db"]);
  });

  it("rotates its logs", () => {
    expect(container.logOpts).toEqual(want.logs);
  });

  it("keeps its data in the named volume", () => {
    expect(container.mounts).toEqual([
      { type: "volume", source: `metamcp-${stack}-pgdata`, target: "/var/lib/postgresql/data" },
    ]);
  });

  it("publishes no port", () => {
    expect(container.ports).toBeUndefined();
  });

  it("sits only on the internal network, where MetaMCP finds it as 'postgres'", () => {
    expect(container.networksAdvanced).toEqual([{ name: `metamcp-${stack}-backend`, aliases: ["postgres"] }]);
  });

  it("is a dependency of MetaMCP, so it is created first", () => {
    const dependencies = named(declared.resources, "metamcp-container").options.dependencies;
    expect(dependencies.some((urn) => urn.endsWith("::postgres-container"))).toBe(true);
  });

  it("declares exactly one data volume", () => {
    expect(ofType(declared.resources, VOLUME).map((r) => r.inputs.name)).toEqual([`metamcp-${stack}-pgdata`]);
  });

  it("keeps the data volume when Pulumi deletes or replaces it", () => {
    expect(named(declared.resources, "postgres-data").options.retainOnDelete).toBe(true);
  });

  it(`${want.protectData ? "protects" : "does not protect"} the data volume from pulumi destroy`, () => {
    expect(named(declared.resources, "postgres-data").options.protect).toBe(want.protectData);
  });

  it("frees its fixed name before a replacement takes it", () => {
    expect(named(declared.resources, "postgres-container").options.deleteBeforeReplace).toBe(true);
  });
});

describe("a database given as an external URL", () => {
  it("declares no Postgres container or volume", async () => {
    const declared = await declareStack("dev", {
      "metamcp-guard:database": { mode: "external" },
      "metamcp-guard:postgresPassword": undefined,
      "metamcp-guard:databaseUrl": "postgresql://u:p@db.example.com:5432/metamcp",
    });
    expect(declared.resources.filter((r) => r.name.startsWith("postgres"))).toEqual([]);
  });
});
