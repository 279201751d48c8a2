// A replacement of the stack's Postgres container leaves its data cleanly shut down, on a real engine: the
// container the dev stack declares (its inputs under mocks: stop timeout, destroy grace, init, limits, env, health
// check), made from a PostgreSQL server image built of Debian's packages (STOPSIGNAL SIGINT, as the official
// image), is deleted the way the provider deletes it on a replacement (stop with destroyGraceSeconds, then a forced
// remove), and a new container starts on the same volume. Its log tells whether the data was shut down cleanly.
// The control deletes it as the provider does without a grace, which shows PostgreSQL's recovery message.
import { Client } from "pg";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { createFlags, removeAsTheProviderDoes } from "../support/declaredContainer";
import { describeWithDocker, docker, testLabelArgs } from "../support/docker";
import { postgresServerImage } from "../support/images";
import { declareStack, named } from "../support/mocks";
import { freePort } from "../support/net";
import { createTestVolume, describeWithPostgresServer, postgresArgs, psqlAsSuperuser, removeTestContainersAndVolumes, serverLog, waitForPostgres } from "../support/postgresServer";
import { TEST_SECRETS } from "../support/stackFiles";

const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
/** What PostgreSQL logs on a start after a shutdown it did not finish (xlog.c, StartupXLOG). */
const RECOVERY = "database system was not properly shut down";
/** What it logs on a start after a clean shutdown. */
const CLEAN = /database system was shut down at /;

describeWithDocker("Postgres stop grace on a real engine", () =>
  describeWithPostgresServer("built from Debian's PostgreSQL", () => {
    let declared: Record<string, any>;
    let volume: string;

    beforeAll(async () => {
      declared = named((await declareStack("dev")).resources, "postgres-container").inputs;
      await postgresServerImage();
    });
    afterEach(removeTestContainersAndVolumes);
    afterAll(removeTestContainersAndVolumes);

    /** The declared container, under a test name, on the test volume, listening on a free port of 127.0.0.1. */
    async function startDeclared(): Promise<{ id: string; user: string; port: number }> {
      const port = await freePort();
      const flags = createFlags(declared, { name: `metamcp-guard-test-postgres-${process.pid}`, network: "host", env: { PGPORT: String(port) } });
      const [mount] = declared.mounts as { source: string; target: string }[];
      const id = await docker(
        "create", ...testLabelArgs(), ...flags,
        "--mount", `type=volume,source=${volume},target=${mount.target}`,
        await postgresServerImage(), ...postgresArgs(),
      );
      await docker("start", id);
      const pg = { id, user: "metamcp_user", port };
      await waitForPostgres(pg);
      return pg;
    }

    /** A first container with data and a client holding a connection, as MetaMCP's pool does. */
    async function busyPostgres(): Promise<{ id: string; client: Client }> {
      volume = await createTestVolume();
      const pg = await startDeclared();
      await psqlAsSuperuser(pg, "metamcp_db", "CREATE TABLE kept AS SELECT generate_series(1, 50000) AS n");
      const client = new Client({ host: "127.0.0.1", port: pg.port, user: "metamcp_user", database: "metamcp_db", password: TEST_SECRETS["metamcp-guard:postgresPassword"] });
      client.on("error", () => undefined); // the shutdown ends this session
      await client.connect();
      await client.query("INSERT INTO kept SELECT generate_series(1, 50000)");
      return { id: pg.id, client };
    }

    it("the declared container is the one these tests run: a grace, and the image's SIGINT as stop signal", async () => {
      volume = await createTestVolume();
      const { id } = await startDeclared();
      const config = JSON.parse(await docker("inspect", "--format", "{{json .Config}}", id));
      expect({ stopTimeout: config.StopTimeout, stopSignal: config.StopSignal, grace: declared.destroyGraceSeconds }).toEqual({
        stopTimeout: 60,
        stopSignal: "SIGINT",
        grace: 60,
      });
    });

    it("a replacement with the declared grace: Postgres finishes its shutdown, the next start needs no recovery", async () => {
      const first = await busyPostgres();
      const seconds = await removeAsTheProviderDoes(HOST, first.id, declared.destroyGraceSeconds);
      await first.client.end().catch(() => undefined);
      console.log(`STOP-GRACE-FIGURES ${JSON.stringify({ case: "declared grace", grace: declared.destroyGraceSeconds, stopSeconds: seconds })}`);
      expect(seconds).toBeLessThan(declared.destroyGraceSeconds);

      const next = await startDeclared();
      const log = await serverLog(next.id);
      expect(log).toMatch(CLEAN);
      expect(log).not.toContain(RECOVERY);
      expect(await psqlAsSuperuser(next, "metamcp_db", "SELECT count(*) FROM kept")).toBe("100000");
    });

    it("control: the same replacement without a grace (stop with 0 s, then a forced remove) leaves a shutdown to recover from", async () => {
      const first = await busyPostgres();
      const seconds = await removeAsTheProviderDoes(HOST, first.id, undefined);
      await first.client.end().catch(() => undefined);
      console.log(`STOP-GRACE-FIGURES ${JSON.stringify({ case: "no grace", grace: 0, stopSeconds: seconds })}`);

      const next = await startDeclared();
      const log = await serverLog(next.id);
      expect(log).toContain(RECOVERY);
      expect(log).not.toMatch(CLEAN);
    });
  }),
);
