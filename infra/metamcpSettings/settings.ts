/**
 * MetaMCP's own settings that this stack manages, as MetaMCP 2.4.22 stores them: rows of its `config` table
 * (`id` text primary key, `value` text, `description` text, `created_at`/`updated_at`), read by MetaMCP on every
 * use (apps/backend/src/lib/config.service.ts), so a new value takes effect without a restart.
 *
 * - `SESSION_LIFETIME`: the absolute age in milliseconds after which MetaMCP closes an MCP session (it sweeps every
 *   5 minutes). No row means sessions never expire: MetaMCP's UI deletes the row to switch the lifetime off.
 * - `MCP_MAX_ATTEMPTS`: how many crashes of an MCP server MetaMCP tolerates before it marks the server ERROR for
 *   every client. No row means 1.
 *
 * Bounds are MetaMCP's own (packages/trpc/src/routers/frontend/config.ts): its API refuses anything else, and its
 * settings page could not show or save a value outside them.
 *
 * Pure functions and constants only; they are also part of the serialized provider (see ../dockerEngine/transport.ts
 * for what that demands: no imports but types, errors made by a factory and recognised by code).
 */

/** The row ids, MetaMCP's ConfigKeyEnum spelling. */
export const SESSION_LIFETIME = "SESSION_LIFETIME";
export const MCP_MAX_ATTEMPTS = "MCP_MAX_ATTEMPTS";

/** The descriptions MetaMCP itself writes with each row (config.service.ts), so a row we write looks like its own. */
export const DESCRIPTIONS: Readonly<Record<string, string>> = {
  [SESSION_LIFETIME]: "Session lifetime in milliseconds before automatic cleanup",
  [MCP_MAX_ATTEMPTS]: "Maximum number of crash attempts before marking MCP server as ERROR",
};

/** MetaMCP's API bounds: 5 minutes to 24 hours. */
export const MIN_SESSION_LIFETIME_MS = 300_000;
export const MAX_SESSION_LIFETIME_MS = 86_400_000;
/** MetaMCP's API bounds for MCP_MAX_ATTEMPTS. */
export const MIN_MAX_ATTEMPTS = 1;
export const MAX_MAX_ATTEMPTS = 10;

/**
 * The two settings as rows hold them: decimal text. `sessionLifetime` absent means no row (no lifetime);
 * `maxAttempts` absent (only ever seen when reading) means no row (MetaMCP then uses 1).
 */
export interface StoredSettings {
  sessionLifetime?: string;
  maxAttempts?: string;
}

export type SettingsErrorCode =
  | "INVALID_SETTING" // a value outside what MetaMCP accepts (refused before any SQL is built)
  | "INVALID_DATABASE_URL" // databaseUrl is not a postgres:// URL
  | "DB_UNREACHABLE" // no connection to PostgreSQL (yet): refused, starting up, container not running
  | "DB_AUTH_FAILED" // PostgreSQL refused the credentials
  | "DB_NOT_FOUND" // the database named does not exist
  | "SQL_FAILED" // a statement failed, or its answer was not what the statements produce
  | "PSQL_MISSING" // the database container has no psql on its PATH
  | "TABLE_TIMEOUT" // MetaMCP's config table did not appear in time
  // PostgresCredentials (../postgresCredentials), which reaches the same database by the same psql path:
  | "ROLE_MISSING" // the server has no role of that name (its data was initialised with another POSTGRES_USER)
  | "SERVER_TOO_OLD" // the server cannot store a SCRAM-SHA-256 password (PostgreSQL before 10)
  | "DB_TIMEOUT"; // the server did not accept a connection in time

export interface SettingsError extends Error {
  name: "MetaMcpSettingsError";
  code: SettingsErrorCode;
}

/** Builds a SettingsError (a factory, not a class: see ../dockerEngine/transport.ts on why). */
export function settingsError(code: SettingsErrorCode, message: string): SettingsError {
  const err = new Error(message) as SettingsError;
  err.name = "MetaMcpSettingsError";
  err.code = code;
  return err;
}

/** True for errors from settingsError, optionally with the given code (duck-typed: works across copies). */
export function isSettingsError(err: unknown, code?: SettingsErrorCode): err is SettingsError {
  const e = err as Partial<SettingsError> | null;
  return e?.name === "MetaMcpSettingsError" && typeof e.code === "string" && (code === undefined || e.code === code);
}

/**
 * Why `text` is not a whole number from `min` to `max` written the way MetaMCP writes numbers (`String(n)`:
 * digits, no sign, no leading zero, no exponent), or undefined when it is (pure).
 */
function wholeNumberProblem(text: unknown, min: number, max: number): string | undefined {
  if (typeof text !== "string" || !/^(0|[1-9][0-9]*)$/.test(text)) return "not a whole number";
  const n = Number(text);
  if (n < min || n > max) return `outside ${min} to ${max}`;
  return undefined;
}

/**
 * Problems with the settings, one message per bad setting naming the key, the value and what is allowed (pure).
 * `sessionLifetime` may be absent (no lifetime); `maxAttempts` must be present.
 */
export function settingsProblems(settings: { sessionLifetime?: unknown; maxAttempts?: unknown }): { property: keyof StoredSettings; reason: string }[] {
  const problems: { property: keyof StoredSettings; reason: string }[] = [];
  const { sessionLifetime, maxAttempts } = settings;
  if (sessionLifetime !== undefined && sessionLifetime !== null) {
    const why = wholeNumberProblem(sessionLifetime, MIN_SESSION_LIFETIME_MS, MAX_SESSION_LIFETIME_MS);
    if (why) {
      problems.push({
        property: "sessionLifetime",
        reason:
          `sessionLifetime (MetaMCP's ${SESSION_LIFETIME}) ${JSON.stringify(sessionLifetime)} is ${why}: it must be a whole ` +
          `number of milliseconds from ${MIN_SESSION_LIFETIME_MS} (5 min) to ${MAX_SESSION_LIFETIME_MS} (24 h), MetaMCP's ` +
          "own bounds, or absent for no lifetime",
      });
    }
  }
  const why = wholeNumberProblem(maxAttempts, MIN_MAX_ATTEMPTS, MAX_MAX_ATTEMPTS);
  if (why) {
    problems.push({
      property: "maxAttempts",
      reason:
        `maxAttempts (MetaMCP's ${MCP_MAX_ATTEMPTS}) ${JSON.stringify(maxAttempts)} is ${why}: it must be a whole number ` +
        `from ${MIN_MAX_ATTEMPTS} to ${MAX_MAX_ATTEMPTS}, MetaMCP's own bounds`,
    });
  }
  return problems;
}

/** The settings, checked: throws INVALID_SETTING naming every bad one (pure). */
export function validSettings(settings: { sessionLifetime?: unknown; maxAttempts?: unknown }): StoredSettings {
  const problems = settingsProblems(settings);
  if (problems.length > 0) throw settingsError("INVALID_SETTING", problems.map((p) => p.reason).join("; "));
  const { sessionLifetime, maxAttempts } = settings as StoredSettings;
  return sessionLifetime === undefined || sessionLifetime === null ? { maxAttempts } : { sessionLifetime, maxAttempts };
}

/** Where a database URL points, for messages, and the passwords it holds, to scrub them from messages (pure). */
export interface DatabaseUrlParts {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Every password the URL holds (in its user part, or as `?password=`): never shown, only removed from messages. */
  secrets: string[];
}

/**
 * Reads `postgres://user:password@host:port/database?…` the way node-postgres (pg-connection-string) does, for the
 * parts a message needs (pure): query parameters `host`, `port`, `user`, `password` override the URL's own parts,
 * and an empty host (`user@/db?host=/socket/dir`) is allowed. Throws INVALID_DATABASE_URL, which never quotes the
 * URL: it may hold a password.
 */
export function parseDatabaseUrl(databaseUrl: unknown): DatabaseUrlParts {
  const fail = (why: string): never => {
    throw settingsError("INVALID_DATABASE_URL", `databaseUrl ${why}; expected postgres://user:password@host:port/database (the value is secret and not shown)`);
  };
  if (typeof databaseUrl !== "string" || databaseUrl.trim() === "") return fail("is empty");
  const text = databaseUrl.trim();
  let url: URL | undefined;
  let emptyHost = false;
  try {
    url = new URL(text);
  } catch {
    try {
      url = new URL(text.replace("@/", "@empty.invalid/"));
      emptyHost = true;
    } catch {
      // reported below
    }
  }
  if (!url) return fail("is not a URL");
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") return fail(`has the scheme ${JSON.stringify(url.protocol)}, not postgres:`);
  const query = url.searchParams;
  const host = query.get("host") || (emptyHost ? "" : url.hostname.replace(/^\[(.*)\]$/, "$1")) || "localhost";
  const port = Number(query.get("port") || url.port || 5432);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail("has a port that is not a number from 1 to 65535");
  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      return fail("holds a malformed %-escape");
    }
  };
  const database = decode(url.pathname.replace(/^\//, ""));
  if (database === "") return fail("names no database");
  const secrets = [decode(url.password), url.password, query.get("password") ?? ""].filter((s) => s !== "");
  return { host, port, database, user: query.get("user") || decode(url.username), secrets: [...new Set(secrets)] };
}

/**
 * `message` with every spelling of the passwords removed (pure): as given and URL-encoded. Messages from the
 * Postgres client never contain them as far as we know; this makes sure.
 */
export function redactSecrets(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) {
    for (const spelling of new Set([secret, encodeURIComponent(secret)])) out = out.split(spelling).join("***");
  }
  return out;
}
