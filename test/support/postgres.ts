/**
 * Real-PostgreSQL test support: a server on 127.0.0.1 named by METAMCP_GUARD_TEST_POSTGRES_URL (a role that may
 * create databases; `scripts/start-postgres.sh` sets one up and prints its URL, and `.ci/run` exports it), a
 * suite gate like describeWithDocker, and throwaway databases holding MetaMCP's `config` table.
 *
 *     describeWithPostgres("settings SQL", () => {
 *       let db: TestDatabase;
 *       beforeEach(async () => (db = await createTestDatabase()));
 *       afterEach(() => db.drop());
 *       it("…", async () => {
 *         await createConfigTable(db.url);
 *         expect(await queryRows(db.url, "SELECT id FROM config")).toEqual([]);
 *       });
 *     });
 *
 * Every database a test creates is named `mmg_test_<pid>_<n>`; it is dropped by `drop()`, and databases left by a
 * test process that is no longer alive are dropped the next time one is created.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { runTestContainer } from "./dockerCli";
import { describeNeeding } from "./gate";
import { psqlImage } from "./images";

export const POSTGRES_URL_ENV = "METAMCP_GUARD_TEST_POSTGRES_URL";
/** MetaMCP 2.4.22's `config` table, written from its schema (see the file's header). */
export const CONFIG_TABLE_DDL = path.join(__dirname, "../metamcpSettings/fixtures/metamcp-config-table.sql");
const DATABASE_PREFIX = "mmg_test_";

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Why no test server is usable, or undefined when one answers `SELECT 1`. Checked once per process, synchronously
 * (vitest collects suites synchronously), in a child process so the check can time out; the URL travels in the
 * child's environment, never on a command line.
 */
export function postgresUnavailableReason(): string | undefined {
  if (availability === undefined) {
    const url = process.env[POSTGRES_URL_ENV];
    if (!url) {
      availability = {
        ok: false,
        reason: `${POSTGRES_URL_ENV} is not set; run: export ${POSTGRES_URL_ENV}="$(bash scripts/start-postgres.sh)"`,
      };
    } else {
      const probe = spawnSync(
        process.execPath,
        [
          "-e",
          `const { Client } = require("pg");
           const c = new Client({ connectionString: process.env.PROBE_URL, connectionTimeoutMillis: 5000 });
           c.connect().then(() => c.query("SELECT 1")).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });`,
        ],
        { cwd: path.join(__dirname, "../.."), env: { ...process.env, PROBE_URL: url }, encoding: "utf8", timeout: 15_000 },
      );
      availability =
        probe.status === 0
          ? { ok: true }
          : { ok: false, reason: `no PostgreSQL answers at ${POSTGRES_URL_ENV} (${(probe.stderr || probe.error?.message || "no answer").trim().split("\n")[0]}); run scripts/start-postgres.sh` };
    }
  }
  return availability.ok ? undefined : availability.reason;
}

/** `describe` for suites that need the test PostgreSQL: run, fail in CI (`CI` set) without one, skip locally, naming why. */
export function describeWithPostgres(name: string, fn: () => void): void {
  describeNeeding(name, postgresUnavailableReason(), "a PostgreSQL server", fn);
}

/** The test server's URL (the gate made sure it is set). */
export function adminUrl(): string {
  const url = process.env[POSTGRES_URL_ENV];
  if (!url) throw new Error(`${POSTGRES_URL_ENV} is not set`);
  return url;
}

/** The same server and credentials, another database. */
export function urlFor(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs one statement on its own connection; resolves with the rows. */
export async function queryRows(url: string, text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** The role the URL logs in as (the test server's role). */
  user: string;
  drop(): Promise<void>;
}

let created = 0;

/** A new, empty database on the test server, owned by the test role. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (created === 0) await dropStaleTestDatabases();
  created += 1;
  const name = `${DATABASE_PREFIX}${process.pid}_${created}`;
  await queryRows(adminUrl(), `CREATE DATABASE "${name}"`);
  return {
    name,
    url: urlFor(name),
    user: decodeURIComponent(new URL(adminUrl()).username),
    // FORCE: a connection a failed test left open must not keep the database alive.
    drop: async () => void (await queryRows(adminUrl(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

/** MetaMCP's `config` table in the database at `url`, as its migrations create it. */
export async function createConfigTable(url: string): Promise<void> {
  await queryRows(url, fs.readFileSync(CONFIG_TABLE_DDL, "utf8"));
}

/** Databases named by a test process that has ended. */
async function dropStaleTestDatabases(): Promise<void> {
  const rows = await queryRows(adminUrl(), "SELECT datname FROM pg_database WHERE datname LIKE $1", [`${DATABASE_PREFIX}%`]);
  for (const { datname } of rows as { datname: string }[]) {
    const pid = Number(datname.slice(DATABASE_PREFIX.length).split("_")[0]);
    if (pid === process.pid || isAlive(pid)) continue;
    await queryRows(adminUrl(), `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A running test container with Debian's psql on the host network, pointed at the test server by its environment
 * (PGHOST, PGPORT, PGPASSWORD), the way the official postgres image's psql finds its own server: with no host on
 * the command line. So `psql -U role -d database` run in it by exec reaches the test server, as the provider's
 * psql reaches the stack's Postgres.
 */
export async function runPsqlTestContainer(): Promise<string> {
  const server = new URL(adminUrl());
  return runTestContainer(
    "--network", "host",
    "-e", `PGHOST=${server.hostname}`, "-e", `PGPORT=${server.port}`, "-e", `PGPASSWORD=${decodeURIComponent(server.password)}`,
    await psqlImage(), "sleep", "3600",
  );
}
