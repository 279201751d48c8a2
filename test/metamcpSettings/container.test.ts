// MetaMcpSettings the internal-Postgres way in: psql run inside a container through the Engine API exec, against a
// real PostgreSQL. The container holds Debian's psql on the host network, pointed at the test server by its
// environment (runPsqlTestContainer), as the official postgres image's psql finds its own server by default: so
// the provider's exec path (exec create, stdin script with psql variables, exit code) runs for real. Then its
// error paths: a failing statement (exit 3), no connection (exit 2, retried), container stopped, gone, no psql.
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { metaMcpSettingsProvider as provider, type MetaMcpSettingsInputs } from "../../infra/metamcpSettings/provider";
import { describeWithDocker, docker, removeTestContainers, runTestContainer } from "../support/docker";
import { busyboxImage } from "../support/images";
import {
  createConfigTable,
  createTestDatabase,
  describeWithPostgres,
  queryRows,
  runPsqlTestContainer,
  type TestDatabase,
} from "../support/postgres";

const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";

function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: Error & { code?: string }) => err,
  );
}

async function values(url: string): Promise<Record<string, string>> {
  const rows = await queryRows(url, "SELECT id, value FROM config ORDER BY id");
  return Object.fromEntries(rows.map((r) => [r.id as string, r.value as string]));
}

describeWithDocker("MetaMcpSettings through psql in a container (internal Postgres)", () => {
  describeWithPostgres("against a real PostgreSQL", () => {
    let psqlContainer: string;
    let db: TestDatabase;
    let declared: MetaMcpSettingsInputs;

    beforeAll(async () => {
      psqlContainer = await runPsqlTestContainer();
    });
    afterAll(removeTestContainers);
    beforeEach(async () => {
      db = await createTestDatabase();
      declared = { maxAttempts: "3", sessionLifetime: "86400000", dockerHost: HOST, containerId: psqlContainer, user: db.user, database: db.name, waitTimeoutMs: 20_000 };
    });
    afterEach(async () => db.drop());

    it("create waits for the table, writes through psql's variables, read sees UI drift, update repairs it, delete leaves the rows", async () => {
      const creating = provider.create(declared);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await createConfigTable(db.url);
      expect(await creating).toEqual({ id: "metamcp-settings", outs: declared });
      const written = await queryRows(db.url, "SELECT id, value, description FROM config ORDER BY id");
      expect(written).toEqual([
        { id: "MCP_MAX_ATTEMPTS", value: "3", description: "Maximum number of crash attempts before marking MCP server as ERROR" },
        { id: "SESSION_LIFETIME", value: "86400000", description: "Session lifetime in milliseconds before automatic cleanup" },
      ]);

      await queryRows(db.url, "UPDATE config SET value = '1', updated_at = now() WHERE id = 'MCP_MAX_ATTEMPTS'");
      await queryRows(db.url, "DELETE FROM config WHERE id = 'SESSION_LIFETIME'");
      const refreshed = await provider.read!("metamcp-settings", declared);
      const { sessionLifetime: _gone, ...rest } = declared;
      expect(refreshed).toEqual({ id: "metamcp-settings", props: { ...rest, maxAttempts: "1" } });

      expect((await provider.update!("metamcp-settings", refreshed.props!, declared)).outs).toEqual(declared);
      await provider.delete!("metamcp-settings", declared);
      expect(await values(db.url)).toEqual({ MCP_MAX_ATTEMPTS: "3", SESSION_LIFETIME: "86400000" });
    });

    it("a statement that fails (psql exit 3) is SQL_FAILED with psql's own message, and the transaction leaves nothing", async () => {
      // A table named config without MetaMCP's description column.
      await queryRows(db.url, "CREATE TABLE config (id text PRIMARY KEY, value text NOT NULL)");
      const err = await failure(provider.create(declared));
      expect(err).toMatchObject({ code: "SQL_FAILED" });
      expect(err.message).toContain(`a statement failed in database "${db.name}"`);
      expect(err.message).toMatch(/column "description" of relation "config" does not exist/);
      expect(await values(db.url)).toEqual({});
    });

    it("no connection (psql exit 2) is retried until the wait ends, then named with psql's words", async () => {
      const err = await failure(provider.create({ ...declared, user: "mmg_no_such_role", waitTimeoutMs: 2_000 }));
      expect(err).toMatchObject({ code: "TABLE_TIMEOUT" });
      expect(err.message).toContain(`Last seen: psql could not connect to database "${db.name}" (user "mmg_no_such_role")`);
      expect(err.message).toMatch(/password authentication failed for user "mmg_no_such_role"|role "mmg_no_such_role" does not exist/);
    });

    it("a stopped Postgres container is waited for, and named when the wait ends", async () => {
      const stopped = await runPsqlTestContainer();
      await docker("stop", "-t", "0", stopped);
      const err = await failure(provider.create({ ...declared, containerId: stopped, waitTimeoutMs: 2_000 }));
      expect(err).toMatchObject({ code: "TABLE_TIMEOUT" });
      expect(err.message).toContain(`Last seen: container ${stopped} on ${HOST} is not running`);
    });

    it("a Postgres container that is gone fails create at once, and read drops the resource", async () => {
      const gone = await runPsqlTestContainer();
      await docker("rm", "-f", gone);
      const started = Date.now();
      const err = await failure(provider.create({ ...declared, containerId: gone }));
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(err).toMatchObject({ name: "DockerApiError", code: "CONTAINER_NOT_FOUND" });
      expect(await provider.read!("metamcp-settings", { ...declared, containerId: gone })).toEqual({});
    });

    it("a container without psql is PSQL_MISSING, at once", async () => {
      const busybox = await runTestContainer("--network", "none", await busyboxImage(), "sleep", "3600");
      const err = await failure(provider.create({ ...declared, containerId: busybox }));
      expect(err).toMatchObject({ code: "PSQL_MISSING" });
      expect(err.message).toMatch(/no psql on its PATH \(is it the stack's Postgres container\?\)/);
    });

    it("bad values are refused before any exec", async () => {
      await createConfigTable(db.url);
      const err = await failure(provider.create({ ...declared, maxAttempts: "100" }));
      expect(err).toMatchObject({ code: "INVALID_SETTING" });
      expect(await values(db.url)).toEqual({});
    });
  });
});
