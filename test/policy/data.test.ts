/** Production's Postgres volume is protected. */
import { describe, expect, it } from "vitest";
import { prodPostgresVolumeProtected } from "../../policy/data";
import { UNKNOWN_STRING, validateStack } from "./support/harness";
import { container, volume } from "./support/fixtures";

const MOUNT = { type: "volume", source: "metamcp-prod-pgdata", target: "/var/lib/postgresql/data" };

function database(stack = "prod", mounts: unknown = [MOUNT], deps: Parameters<typeof container>[0] = {}) {
  return container({ role: "db", stack, props: { mounts }, ...deps });
}

describe("prod-postgres-volume-protected", () => {
  it("passes a protected volume mounted by Postgres", async () => {
    expect(await validateStack(prodPostgresVolumeProtected, [volume("metamcp-prod-pgdata", "prod", true), database()])).toEqual({ violations: [] });
  });

  it("fails an unprotected volume, reported on the volume", async () => {
    const data = volume("metamcp-prod-pgdata", "prod", false);
    expect(await validateStack(prodPostgresVolumeProtected, [data, database()])).toEqual({
      violations: [{ message: "volume postgres-data, Postgres's data in prod, is not protected; declare it with protect: true.", urn: data.urn }],
    });
  });

  it("finds the volume through the mount's dependency when its name is unknown (first preview)", async () => {
    const data = volume("metamcp-prod-pgdata", "prod", false);
    const db = database("prod", [{ ...MOUNT, source: UNKNOWN_STRING }], { propertyDependencies: { mounts: [data] } });
    expect((await validateStack(prodPostgresVolumeProtected, [data, db])).violations.map((v) => v.urn)).toEqual([data.urn]);
  });

  it("fails Postgres without a named volume (data inside the container)", async () => {
    const db = database("prod", undefined);
    expect((await validateStack(prodPostgresVolumeProtected, [db])).violations).toEqual([
      { message: expect.stringContaining("mounts no named volume"), urn: db.urn },
    ]);
  });

  it("ignores other volumes", async () => {
    const outcome = await validateStack(prodPostgresVolumeProtected, [volume("scratch", "prod", false), volume("metamcp-prod-pgdata", "prod", true), database()]);
    expect(outcome).toEqual({ violations: [] });
  });

  it("does not apply to dev", async () => {
    const outcome = await validateStack(prodPostgresVolumeProtected, [volume("metamcp-dev-pgdata", "dev", false), database("dev")]);
    expect(outcome.notApplicable).toBe("dev is not a production stack");
  });

  it("does not apply without a Postgres container (external database)", async () => {
    expect((await validateStack(prodPostgresVolumeProtected, [container({ stack: "prod" })])).notApplicable).toContain("external database");
  });
});
