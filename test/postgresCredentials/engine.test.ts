// PostgresCredentials' provider functions against a real PostgreSQL in a container (Debian's server, built into a
// test image that behaves like the official one: POSTGRES_* applied to an empty volume only), on a named volume
// that outlives its containers, as the stack's. The provider reaches it as it reaches the stack's Postgres: psql
// run by the Engine API exec over the container's local socket. Logins are checked from outside, over TCP with a
// password, as MetaMCP logs in.
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { postgresCredentialsProvider as provider } from "../../infra/postgresCredentials/provider";
import { renameSteps, type PostgresCredentialsInputs } from "../../infra/postgresCredentials/credentials";
import { busyboxImage, postgresServerImage } from "../support/images";
import { engineOverTcp } from "../support/net";
import { describeWithDocker, docker, runTestContainer } from "../support/docker";
import {
  createTestVolume,
  logIn,
  psqlAsSuperuser,
  removeTestContainersAndVolumes,
  serverLog,
  startPostgres,
  waitForPostgres,
  type RunningPostgres,
  describeWithPostgresServer,
} from "../support/postgresServer";

const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const OLD_PASSWORD = "old-password-0123456789";
const NEW_PASSWORD = `new p@ss'"\\-0123456789`;
const WRONG_PASSWORD = "28P01";

/** The inputs the stack would declare for this container. */
function declared(pg: RunningPostgres, password: string, extra: Partial<PostgresCredentialsInputs> = {}): PostgresCredentialsInputs {
  return {
    dockerHost: HOST,
    containerId: pg.id,
    user: pg.user,
    database: pg.database,
    password,
    acceptRename: false,
    postgresContainer: pg.name ?? pg.id,
    metamcpContainer: "metamcp-test",
    waitTimeoutMs: 60_000,
    ...extra,
  };
}

/** What the provider does when Pulumi replaces the container: stop with the grace, remove (see stopGrace.test.ts). */
async function replaceContainer(old: RunningPostgres, next: Partial<RunningPostgres>): Promise<RunningPostgres> {
  await docker("stop", "-t", "60", old.id);
  await docker("rm", old.id);
  const { id: _id, port: _port, ...spec } = { ...old, ...next };
  return startPostgres(spec);
}

function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: Error & { code?: string }) => err,
  );
}

describeWithDocker("PostgresCredentials against a real Postgres in a container", () =>
  describeWithPostgresServer("built from Debian's PostgreSQL", () => {
    beforeAll(async () => {
      await postgresServerImage();
    });
    afterEach(removeTestContainersAndVolumes);
    afterAll(removeTestContainersAndVolumes);

    it("a new password with Postgres replaced on the same volume: the old one stays in force until update applies the new one", async () => {
      const volume = await createTestVolume();
      const first = await startPostgres({ volume, user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      await waitForPostgres(first);
      const second = await replaceContainer(first, { password: NEW_PASSWORD });
      await waitForPostgres(second);
      // What MetaMCP met before this resource: the image ignored POSTGRES_PASSWORD on the old data.
      expect(await logIn(second, NEW_PASSWORD)).toBe(WRONG_PASSWORD);
      expect(await logIn(second, OLD_PASSWORD)).toBe("ok");

      const news = declared(second, NEW_PASSWORD);
      expect(await provider.update!("postgres-credentials", declared(first, OLD_PASSWORD), news)).toEqual({ outs: { ...news, passwordInForce: true } });
      expect(await logIn(second, NEW_PASSWORD)).toBe("ok");
      expect(await logIn(second, OLD_PASSWORD)).toBe(WRONG_PASSWORD);
    });

    it("the first deployment onto a volume that holds data with another password: create makes the stack's password the one", async () => {
      const volume = await createTestVolume();
      const earlier = await startPostgres({ volume, user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      await waitForPostgres(earlier);
      const pg = await replaceContainer(earlier, { password: NEW_PASSWORD });

      // No wait first: create itself waits for the new container to answer.
      expect(await provider.create(declared(pg, NEW_PASSWORD))).toEqual({ id: "postgres-credentials", outs: { ...declared(pg, NEW_PASSWORD), passwordInForce: true } });
      expect(await logIn(pg, NEW_PASSWORD)).toBe("ok");
    });

    it("create waits while a new container initialises an empty volume, and the password works afterwards", async () => {
      const pg = await startPostgres({ volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: NEW_PASSWORD });
      await provider.create(declared(pg, NEW_PASSWORD));
      expect(await logIn(pg, NEW_PASSWORD)).toBe("ok");
    });

    it("refresh: in force after create; a password changed by hand is seen, diff calls for an update, update sets it back", async () => {
      const pg = await startPostgres({ volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      const { outs } = await provider.create(declared(pg, NEW_PASSWORD));
      expect((await provider.read!("postgres-credentials", outs)).props?.passwordInForce).toBe(true);

      await psqlAsSuperuser(pg, "postgres", "ALTER ROLE metamcp_user PASSWORD 'set-by-hand-0123'");
      const refreshed = await provider.read!("postgres-credentials", outs);
      expect(refreshed).toEqual({ id: "postgres-credentials", props: { ...outs, passwordInForce: false } });
      expect((await provider.diff!("postgres-credentials", refreshed.props!, declared(pg, NEW_PASSWORD))).changes).toBe(true);
      await provider.update!("postgres-credentials", refreshed.props!, declared(pg, NEW_PASSWORD));
      expect(await logIn(pg, NEW_PASSWORD)).toBe("ok");
    });

    it("refresh with Postgres stopped keeps the recorded state; with the container gone, the resource goes", async () => {
      const pg = await startPostgres({ volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      const { outs } = await provider.create(declared(pg, NEW_PASSWORD));
      await docker("stop", pg.id);
      expect(await provider.read!("postgres-credentials", outs)).toEqual({ id: "postgres-credentials", props: outs });
      await docker("rm", pg.id);
      expect(await provider.read!("postgres-credentials", outs)).toEqual({});
    });

    it("the server stores a SCRAM secret, not something it hashed again", async () => {
      const pg = await startPostgres({ volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      await provider.create(declared(pg, NEW_PASSWORD));
      expect(await psqlAsSuperuser(pg, "postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = current_user")).toMatch(/^SCRAM-SHA-256\$4096:/);
    });

    it("the password never reaches the server's log, even when the server logs every statement", async () => {
      const pg = await startPostgres({
        volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD, settings: ["log_statement=all"],
      });
      await provider.create(declared(pg, NEW_PASSWORD));
      const log = await serverLog(pg.id);
      expect(log).toMatch(/statement: ALTER ROLE CURRENT_USER PASSWORD 'SCRAM-SHA-256\$/); // it did log the statement
      expect(log).not.toContain(NEW_PASSWORD);
    });

    it("the password never travels to the engine: no exec's argv or environment holds it, nor its secret; stdin holds the secret only", async () => {
      const pg = await startPostgres({ volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      const sent: Buffer[] = [];
      const engine = await engineOverTcp(HOST, (chunk) => sent.push(chunk));
      try {
        await provider.create({ ...declared(pg, NEW_PASSWORD), dockerHost: engine.host });
      } finally {
        await engine.close();
      }
      const wire = Buffer.concat(sent).toString("latin1");
      const execBodies = [...wire.matchAll(/POST \/containers\/[^/]+\/exec HTTP[\s\S]*?\r\n\r\n(\{[^\n]*?\})(?=POST|GET|$)/g)].map((m) => JSON.parse(m[1]));
      // The version probe (retried while the new container initialises its volume), then the ALTER ROLE: every one
      // the same psql with no value in argv, and nothing but the role and database in its environment.
      expect(execBodies.length).toBeGreaterThanOrEqual(2);
      expect(new Set(execBodies.map((b) => JSON.stringify({ Cmd: b.Cmd, Env: b.Env })))).toEqual(
        new Set([JSON.stringify({ Cmd: ["psql", "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"], Env: ["PGUSER=metamcp_user", "PGDATABASE=metamcp_db"] })]),
      );
      expect(JSON.stringify(execBodies)).not.toContain("SCRAM-SHA-256");
      expect(wire).toMatch(/ALTER ROLE CURRENT_USER PASSWORD 'SCRAM-SHA-256\$4096:/); // on the exec's stdin
      expect(wire).not.toContain(NEW_PASSWORD);
      expect(await logIn(pg, NEW_PASSWORD)).toBe("ok");
    });

    it("a role the data does not have: ROLE_MISSING at once; the steps given, run as written, rename it; then the password applies", async () => {
      const volume = await createTestVolume();
      const earlier = await startPostgres({ volume, user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      await waitForPostgres(earlier);
      await psqlAsSuperuser(earlier, "metamcp_db", "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('data')");
      const name = `metamcp-guard-test-postgres-${process.pid}`;
      const pg = await replaceContainer(earlier, { name, user: "metamcp_app" });
      await waitForPostgres(pg);

      const started = Date.now();
      const err = await failure(provider.create(declared(pg, NEW_PASSWORD)));
      expect(err).toMatchObject({ code: "ROLE_MISSING" });
      expect(Date.now() - started).toBeLessThan(30_000);

      for (const step of renameSteps({ from: { user: "metamcp_user", database: "metamcp_db" }, to: { user: "metamcp_app", database: "metamcp_db" }, postgresContainer: name, metamcpContainer: "unused" })) {
        await docker(...step.argv.slice(1));
      }
      await provider.create(declared(pg, NEW_PASSWORD));
      expect(await logIn(pg, NEW_PASSWORD)).toBe("ok");
      expect(await psqlAsSuperuser(pg, "metamcp_db", "SELECT v FROM kept")).toBe("data");
      expect(await psqlAsSuperuser(pg, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'metamcp_guard_rename'")).toBe("0");
    });

    it("a database rename by the steps given: MetaMCP stopped, the database renamed with its data, the password applied", async () => {
      const volume = await createTestVolume();
      const name = `metamcp-guard-test-postgres-${process.pid}`;
      const app = `metamcp-guard-test-app-${process.pid}`;
      const pg = await startPostgres({ volume, name, user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      await waitForPostgres(pg);
      await psqlAsSuperuser(pg, "metamcp_db", "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('data')");
      await runTestContainer("--network", "none", "--name", app, await busyboxImage(), "sleep", "600");

      for (const step of renameSteps({ from: { user: "metamcp_user", database: "metamcp_db" }, to: { user: "metamcp_user", database: "metamcp" }, postgresContainer: name, metamcpContainer: app })) {
        await docker(...step.argv.slice(1));
      }
      expect(await docker("inspect", "-f", "{{.State.Running}}", app)).toBe("false");
      await provider.create(declared(pg, NEW_PASSWORD, { database: "metamcp" }));
      expect(await logIn(pg, NEW_PASSWORD, { database: "metamcp" })).toBe("ok");
      expect(await psqlAsSuperuser(pg, "metamcp", "SELECT v FROM kept")).toBe("data");
    });

    it("a database the data does not have: retried until the deadline, then DB_TIMEOUT saying so", async () => {
      const pg = await startPostgres({ volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      await waitForPostgres(pg);
      const err = await failure(provider.create(declared(pg, NEW_PASSWORD, { database: "metamcp", waitTimeoutMs: 3_000 })));
      expect(err).toMatchObject({ code: "DB_TIMEOUT" });
      expect(err.message).toMatch(/within 3 s\. .*Last seen: .*database "metamcp" does not exist/s);
      expect(err.message).toMatch(/The data volume has no database "metamcp"/);
    });

    it("a stopped container: retried until the deadline, then DB_TIMEOUT naming what was seen", async () => {
      const pg = await startPostgres({ volume: await createTestVolume(), user: "metamcp_user", database: "metamcp_db", password: OLD_PASSWORD });
      await waitForPostgres(pg);
      await docker("stop", pg.id);
      const err = await failure(provider.create(declared(pg, NEW_PASSWORD, { waitTimeoutMs: 2_000 })));
      expect(err).toMatchObject({ code: "DB_TIMEOUT" });
      expect(err.message).toMatch(/Last seen: container .* is not running/);
      expect(err.message).not.toContain(NEW_PASSWORD);
    });
  }),
);
