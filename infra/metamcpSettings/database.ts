/**
 * The I/O of MetaMcpSettings: run the statements of sql.ts against MetaMCP's database, by one of two ways in.
 *  - The stack's internal Postgres: `psql` inside the Postgres container, through the Engine API exec
 *    (../dockerEngine/exec.ts, over the same unix/tcp/ssh transport as PidsLimit). psql connects over the
 *    container's local socket, which the official postgres image trusts, so no password is involved.
 *  - An external database: node-postgres (`pg`) from where Pulumi runs, with the `databaseUrl` secret. Every
 *    message names the host, port, database and user, never the password (and is scrubbed of it, to be sure).
 * On top of those: wait for MetaMCP's `config` table, read the settings, write them and read them back.
 *
 * Part of the serialized provider (see ../dockerEngine/transport.ts): the functions of other modules are reached
 * through the local object `use`, `pg` is required inside the function that needs it (the dynamic-provider host
 * runs in the project's directory, so it finds the project's node_modules), errors are recognised by code.
 */
import { execInContainer, type ExecResult } from "../dockerEngine/exec";
import { formatDockerHost, isDockerApiError, parseDockerHost } from "../dockerEngine/transport";
import {
  isSettingsError,
  parseDatabaseUrl,
  redactSecrets,
  settingsError,
  type DatabaseUrlParts,
  type SettingsError,
  type StoredSettings,
} from "./settings";
import { configTableExists, parseRows, psqlArgv, psqlEnv, readStatement, toPgQuery, toPsqlScript, writeStatements, type Statement } from "./sql";

const use = {
  configTableExists, execInContainer, formatDockerHost, isDockerApiError, isSettingsError, parseDatabaseUrl, parseDockerHost,
  parseRows, psqlArgv, psqlEnv, readStatement, redactSecrets, settingsError, toPgQuery, toPsqlScript, writeStatements,
};

/** How often the wait asks whether the table exists. */
const POLL_MS = 1_000;
/** node-postgres: how long to wait for a connection, and for one statement. */
const PG_CONNECT_TIMEOUT_MS = 10_000;
const PG_QUERY_TIMEOUT_MS = 30_000;

/** Where MetaMCP's database is and how to get in. */
export type DatabaseTarget =
  | { kind: "container"; dockerHost: string; hostKey?: string; containerId: string; user: string; database: string }
  | { kind: "url"; databaseUrl: string };

/** Per-call options: the Engine API timeout and extra ssh options (tests), as for the Docker transport. */
export interface RunOptions {
  timeoutMs?: number;
  sshArgs?: string[];
}

/** The target as messages name it: never the password (pure). */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === "container") {
    const where = use.formatDockerHost(use.parseDockerHost(target.dockerHost));
    return `database "${target.database}" (user "${target.user}") in container ${target.containerId.slice(0, 12)} on ${where}`;
  }
  const parts = use.parseDatabaseUrl(target.databaseUrl);
  return `database "${parts.database}" (user "${parts.user}") at ${parts.host}:${parts.port}`;
}

/**
 * What a psql run means (pure): the last statement's value on success (psql -A -t prints just that), else the
 * error to throw. psql's exit codes: 2 = no connection (the server is not up yet, or the database not created
 * yet: retried by the wait), 3 = a statement failed (ON_ERROR_STOP), 126/127 = no psql in the container.
 */
export function psqlOutcome(result: ExecResult, where: string): string {
  const said = (result.stderr.trim() || result.stdout.trim() || "(nothing)").slice(0, 1_000);
  switch (result.exitCode) {
    case 0:
      return result.stdout.replace(/\r?\n$/, "");
    case 2:
      return fail("DB_UNREACHABLE", `psql could not connect to ${where}: ${said}`);
    case 3:
      return fail("SQL_FAILED", `a statement failed in ${where}: ${said}`);
    case 126:
    case 127:
      return fail("PSQL_MISSING", `cannot run psql for ${where}: the container has no psql on its PATH (is it the stack's Postgres container?): ${said}`);
    default:
      return fail("SQL_FAILED", `psql exited ${result.exitCode} for ${where}: ${said}`);
  }
  function fail(code: "DB_UNREACHABLE" | "SQL_FAILED" | "PSQL_MISSING", message: string): never {
    throw use.settingsError(code, message);
  }
}

/** Error codes of node-postgres and Node's net layer that mean "no connection (yet)". */
const UNREACHABLE_CODES = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND", "EPIPE", "57P03"];

/**
 * A node-postgres error as the error to throw (pure): authentication and a missing database are named as such,
 * anything that means "no connection" is DB_UNREACHABLE naming host and port, the rest SQL_FAILED. The
 * password never appears: the message is built from the URL's other parts and scrubbed of it.
 */
export function pgError(err: unknown, parts: DatabaseUrlParts, phase: "connect" | "query"): SettingsError {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const text = typeof e?.message === "string" ? e.message : String(err);
  const said = use.redactSecrets(code && !text.includes(code) ? `${code}: ${text}` : text, parts.secrets);
  const where = `PostgreSQL at ${parts.host}:${parts.port} (database "${parts.database}", user "${parts.user}")`;
  if (code === "28P01" || code === "28000") return use.settingsError("DB_AUTH_FAILED", `${where} refused the credentials in databaseUrl: ${said}`);
  if (code === "3D000") return use.settingsError("DB_NOT_FOUND", `${where}: the database does not exist: ${said}`);
  const noConnection =
    (code !== undefined && UNREACHABLE_CODES.includes(code)) ||
    /timeout|terminated unexpectedly|Connection terminated/i.test(text);
  if (noConnection || (phase === "connect" && code === undefined)) {
    return use.settingsError("DB_UNREACHABLE", `cannot connect to ${where} from where Pulumi runs: ${said}`);
  }
  return use.settingsError("SQL_FAILED", `a statement failed on ${where}: ${said}`);
}

/** Runs the statements with psql in the Postgres container; resolves with the last statement's value. */
async function runInContainer(target: Extract<DatabaseTarget, { kind: "container" }>, statements: Statement[], options: RunOptions): Promise<string> {
  const { script, variables } = use.toPsqlScript(statements);
  const result = await use.execInContainer(target.dockerHost, target.containerId, use.psqlArgv(variables), {
    stdin: script,
    env: use.psqlEnv(target.user, target.database),
    ...(target.hostKey ? { hostKey: target.hostKey } : {}),
    ...options,
  });
  return psqlOutcome(result, describeTarget(target));
}

/** Runs the statements over one node-postgres connection; resolves with the last statement's value as text. */
async function runThroughUrl(target: Extract<DatabaseTarget, { kind: "url" }>, statements: Statement[]): Promise<string> {
  const { Client } = require("pg") as typeof import("pg");
  const parts = use.parseDatabaseUrl(target.databaseUrl);
  const client = new Client({
    connectionString: target.databaseUrl,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    query_timeout: PG_QUERY_TIMEOUT_MS,
    application_name: "metamcp-guard",
  });
  // A connection dropped between statements is reported by the statement; without a listener, node-postgres's
  // 'error' event would crash the provider process instead.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw pgError(err, parts, "connect");
  }
  try {
    let last: unknown;
    for (const statement of statements) {
      const { text, values } = use.toPgQuery(statement);
      const result = await client.query({ text, values, rowMode: "array" });
      last = result.rows?.[0]?.[0];
    }
    return last === undefined || last === null ? "" : String(last);
  } catch (err) {
    throw pgError(err, parts, "query");
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs the statements against the target; resolves with the last statement's single value as text. */
export function runStatements(target: DatabaseTarget, statements: Statement[], options: RunOptions = {}): Promise<string> {
  return target.kind === "container" ? runInContainer(target, statements, options) : runThroughUrl(target, statements);
}

/** Errors the wait retries (pure): no connection yet, or the Postgres container not running (yet, or restarting). */
export function isRetryable(err: unknown): boolean {
  return use.isSettingsError(err, "DB_UNREACHABLE") || use.isDockerApiError(err, "CONTAINER_NOT_RUNNING");
}

/** The error when the table never appeared: what was seen last, and what to check (pure). */
export function tableTimeoutMessage(where: string, timeoutMs: number, lastSeen: string): string {
  return (
    `MetaMCP's "config" table did not appear in ${where} within ${Math.round(timeoutMs / 1000)} s. MetaMCP creates it ` +
    "with its own migrations every time its container starts, once Postgres answers: check that MetaMCP's container " +
    'is running, that its log shows "Migrations completed successfully!" (docker logs <MetaMCP container>), and that ' +
    `it uses this same database. Last seen: ${lastSeen}`
  );
}

/** Polls until MetaMCP's `config` table exists; rejects with TABLE_TIMEOUT, or at once with an error that will not pass. */
export async function waitForConfigTable(target: DatabaseTarget, timeoutMs: number, options: RunOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lastSeen: string;
    try {
      if ((await runStatements(target, [use.configTableExists()], options)) === "true") return;
      lastSeen = "the database answers, but the table does not exist yet";
    } catch (err) {
      if (!isRetryable(err)) throw err;
      lastSeen = (err as Error).message;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw use.settingsError("TABLE_TIMEOUT", tableTimeoutMessage(describeTarget(target), timeoutMs, lastSeen));
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
  }
}

/** The read-back's text as settings, or SQL_FAILED quoting it (it is never more than the two rows' values). */
function rowsOrFail(text: string, target: DatabaseTarget): StoredSettings {
  const settings = use.parseRows(text);
  if (!settings) throw use.settingsError("SQL_FAILED", `unexpected answer from ${describeTarget(target)}: ${JSON.stringify(text.slice(0, 200))}`);
  return settings;
}

/** The settings as MetaMCP's rows hold them now; none while the table does not exist (no waiting). */
export async function readSettings(target: DatabaseTarget, options: RunOptions = {}): Promise<StoredSettings> {
  if ((await runStatements(target, [use.configTableExists()], options)) !== "true") return {};
  return rowsOrFail(await runStatements(target, [use.readStatement()], options), target);
}

/**
 * Validates the settings (INVALID_SETTING before anything is touched), waits up to `waitTimeoutMs` for the table,
 * writes both rows in one transaction and resolves with what the rows hold afterwards.
 */
export async function applySettings(
  target: DatabaseTarget,
  settings: StoredSettings,
  waitTimeoutMs: number,
  options: RunOptions = {},
): Promise<StoredSettings> {
  const statements = use.writeStatements(settings);
  await waitForConfigTable(target, waitTimeoutMs, options);
  return rowsOrFail(await runStatements(target, statements, options), target);
}
