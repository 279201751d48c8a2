/**
 * A real PostgreSQL server in a container, from the test image built of Debian's packages (postgresServerImage),
 * on a named volume that outlives its containers, as the stack's Postgres does. It listens on a free port of
 * 127.0.0.1 (host network: no bridge here), so the tests log in over TCP with a password, as MetaMCP does. The port
 * is the container's PGPORT, which the server and every psql run in it by exec (the provider's too) take as their
 * default, so exec'd psql finds the server's socket as it does in the official image on 5432.
 *
 *     describeWithDocker("…", () => describeWithPostgresServer("on a real Postgres", () => { … }));
 *
 *     const volume = await createTestVolume();
 *     const pg = await startPostgres({ volume, user: "metamcp_user", database: "metamcp_db", password: "old-password-1" });
 *     await waitForPostgres(pg);
 *     expect(await logIn(pg, "old-password-1")).toBe("ok");
 *     // afterEach and afterAll: removeTestContainersAndVolumes
 *
 * Volumes carry the test labels too, and removeTestVolumes removes this process's (once no container uses them).
 */
import { execFile } from "node:child_process";
import { Client } from "pg";
import { docker, removeTestContainers, runTestContainer, TEST_LABEL, TEST_OWNER_LABEL_KEY, testLabelArgs } from "./dockerCli";
import { describeNeeding } from "./gate";
import { POSTGRES_DATA_DIR, postgresServerImage, postgresServerMissingReason } from "./images";
import { freePort } from "./net";
import { waitUntil } from "./wait";

export interface PostgresSpec {
  volume: string;
  user: string;
  database: string;
  /** POSTGRES_PASSWORD: applied by the image only when the volume is empty. */
  password: string;
  /** A container name (the rename steps name containers); a generated one when absent. */
  name?: string;
  /** More `-c name=value` server settings, e.g. log_statement=all. */
  settings?: string[];
}

export interface RunningPostgres extends PostgresSpec {
  id: string;
  port: number;
}

/**
 * `describe` for suites that run the test Postgres image (inside describeWithDocker): run when Debian's server is
 * installed to build it from, fail in CI without it, skip locally naming what to install.
 */
export function describeWithPostgresServer(name: string, fn: () => void): void {
  describeNeeding(name, postgresServerMissingReason(), "Debian's PostgreSQL server to build the test image from", fn);
}

let volumes = 0;

/** A new named volume with the test labels. */
export async function createTestVolume(): Promise<string> {
  volumes += 1;
  const name = `metamcp-guard-test-pgdata-${process.pid}-${volumes}`;
  await docker("volume", "create", ...testLabelArgs(), name);
  return name;
}

/** Removes the volumes this process created (call after removeTestContainers). */
export async function removeTestVolumes(): Promise<void> {
  const names = (await docker("volume", "ls", "-q", "--filter", `label=${TEST_LABEL}`, "--filter", `label=${TEST_OWNER_LABEL_KEY}=${process.pid}`))
    .split("\n")
    .filter(Boolean);
  if (names.length > 0) await docker("volume", "rm", ...names);
}

/** Removes this process's test containers, then its volumes (a volume in use cannot go). */
export async function removeTestContainersAndVolumes(): Promise<void> {
  await removeTestContainers();
  await removeTestVolumes();
}

/** `docker run` flags of a Postgres test container: the image's env and the data volume, as the stack gives them. */
export function postgresEnvFlags(spec: PostgresSpec, port: number): string[] {
  return [
    "-e", `PGPORT=${port}`,
    "-e", `POSTGRES_USER=${spec.user}`,
    "-e", `POSTGRES_DB=${spec.database}`,
    "-e", `POSTGRES_PASSWORD=${spec.password}`,
    "--mount", `type=volume,source=${spec.volume},target=${POSTGRES_DATA_DIR}`,
  ];
}

/** postgres's own arguments: listen on 127.0.0.1 only (the host's network), plus the spec's settings. */
export function postgresArgs(settings: string[] = []): string[] {
  return ["-c", "listen_addresses=127.0.0.1", ...settings.flatMap((s) => ["-c", s])];
}

/** Starts a Postgres container (with --init, as the stack runs it) on the spec's volume. */
export async function startPostgres(spec: PostgresSpec): Promise<RunningPostgres> {
  const port = await freePort();
  const id = await runTestContainer(
    "--init",
    "--network", "host",
    ...(spec.name ? ["--name", spec.name] : []),
    ...postgresEnvFlags(spec, port),
    await postgresServerImage(),
    ...postgresArgs(spec.settings),
  );
  return { ...spec, id, port };
}

/** Waits until the server accepts connections on its socket (pg_isready by exec, as the stack's health check). */
export async function waitForPostgres(pg: { id: string }, timeoutMs = 60_000): Promise<void> {
  await waitUntil(
    async () => {
      await docker("exec", pg.id, "pg_isready", "-q");
      return true;
    },
    timeoutMs,
    `Postgres in ${pg.id.slice(0, 12)} to accept connections`,
    200,
  );
}

/**
 * Logs in over TCP with a password (SCRAM, as MetaMCP's node-postgres does) and runs SELECT 1: "ok", or the
 * server's error code (28P01: wrong password, 28000: no such role, 3D000: no such database).
 */
export async function logIn(pg: RunningPostgres, password: string, as: { user?: string; database?: string } = {}): Promise<string> {
  const client = new Client({
    host: "127.0.0.1",
    port: pg.port,
    user: as.user ?? pg.user,
    database: as.database ?? pg.database,
    password,
    connectionTimeoutMillis: 10_000,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return "ok";
  } catch (err) {
    return String((err as { code?: string }).code ?? (err as Error).message);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs SQL as the superuser over the container's local socket (psql by docker exec); resolves with its output. */
export function psqlAsSuperuser(pg: { id: string; user: string }, database: string, statement: string): Promise<string> {
  return docker("exec", pg.id, "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", pg.user, "-d", database, "-c", statement);
}

/** Everything the container logged, both streams (postgres logs to stderr, which `docker logs` replays on its own). */
export function serverLog(id: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("docker", ["logs", id], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(err) : resolve(`${stdout}${stderr}`)));
  });
}
