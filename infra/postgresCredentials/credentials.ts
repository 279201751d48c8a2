/**
 * The decisions of PostgresCredentials, all pure: which inputs are refused and why (a rename of the role or the
 * database, a password PostgreSQL would normalise), what is a change, and the password as PostgreSQL stores it.
 *
 * Why the resource exists: the postgres image applies POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB only when
 * it initialises an empty data directory. A new password in the stack file replaces both containers, but the new
 * Postgres container starts on the old data, whose role still has the old password, and MetaMCP cannot log in.
 *  - A new password is applied inside the running database: `ALTER ROLE CURRENT_USER PASSWORD '<secret>'`, where
 *    the secret is the SCRAM-SHA-256 verifier computed here (as psql's \password and libpq's
 *    PQencryptPasswordConn do), so the password itself never reaches the server: not its logs (a failed statement
 *    is logged with its text), not pg_stat_activity. The verifier travels on psql's stdin, never in argv.
 *  - A new role or database name is refused at preview, with the steps to rename them in place, unless the stack
 *    file says `database.acceptRename: true` (the operator has done the steps, or starts on an empty volume).
 *
 * Part of the serialized provider (see ../dockerEngine/transport.ts): functions of other modules are reached through
 * the local object `use`, builtins are required inside functions.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { shellQuote } from "../host/shell";
import { containerTargetProblems, UNKNOWN, waitTimeoutProblems } from "../metamcpSettings/provider";
import { sql, type Statement } from "../metamcpSettings/sql";

const use = { containerTargetProblems, shellQuote, sql, unknown: UNKNOWN, waitTimeoutProblems };

/** What the program declares. */
export interface PostgresCredentialsInputs {
  /** Docker host string, as given to docker.Provider. */
  dockerHost: string;
  /** For an ssh:// dockerHost, the host's pinned public key (`type base64`); public, so plain in the state. */
  hostKey?: string;
  /** The Postgres container the password is applied in (a new container id applies it again). */
  containerId: string;
  /** MetaMCP's role and database (POSTGRES_USER, POSTGRES_DB); psql connects as that role over the local socket. */
  user: string;
  database: string;
  /** The role's password (POSTGRES_PASSWORD); a secret input and output. */
  password: string;
  /** The stack file's `database.acceptRename`: a change of user or database is let through. */
  acceptRename: boolean;
  /** Container names, only for the steps the messages give. */
  postgresContainer: string;
  metamcpContainer: string;
  /** How long create/update wait for Postgres to accept psql's connection (ms); DEFAULT_WAIT_TIMEOUT_MS when absent. */
  waitTimeoutMs?: number;
}

/** What the state records: the inputs, and whether the role's password was the declared one when last seen. */
export type PostgresCredentialsOutputs = PostgresCredentialsInputs & {
  /** True once applied; refresh sets it false when the stored password is another (changed by hand). */
  passwordInForce?: boolean;
};

/** Postgres may need a while: a first start initialises the volume, a start after a kill recovers first. */
export const DEFAULT_WAIT_TIMEOUT_MS = 180_000;
/** PostgreSQL's own default for new SCRAM secrets (scram_iterations), and the salt length it uses. */
export const SCRAM_ITERATIONS = 4096;
export const SCRAM_SALT_BYTES = 16;
/** SCRAM secrets in ALTER ROLE are understood from PostgreSQL 10 on (server_version_num). */
export const MIN_SERVER_VERSION_NUM = 100_000;
/** What PostgreSQL stores for a SCRAM-SHA-256 password: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. */
export const SCRAM_SECRET = /^SCRAM-SHA-256\$[1-9][0-9]*:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/;
/** The role the rename steps create for the time of the rename: a role cannot rename itself. */
export const RENAME_HELPER_ROLE = "metamcp_guard_rename";

/**
 * Why the password's characters cannot be hashed here, or undefined (pure). Only printable ASCII: PostgreSQL
 * normalises other characters (SASLprep) before it hashes a password and before a client proves it, which this
 * hashing does not reproduce; for ASCII the normalisation changes nothing, so the secret computed here is the one
 * PostgreSQL would compute. Also the config's rule for postgresPassword. The value is never quoted.
 */
export function passwordCharactersProblem(password: string): string | undefined {
  if (/^[\x20-\x7e]*$/.test(password)) return undefined;
  return (
    "holds characters outside printable ASCII (letters, digits, punctuation, space): the stack hashes the password " +
    "for PostgreSQL itself (SCRAM-SHA-256), and PostgreSQL would first normalise such characters (SASLprep); choose " +
    "another, e.g. openssl rand -hex 24 (the value is secret and not shown)"
  );
}

/** Why a password cannot be applied, or undefined (pure). */
export function passwordProblem(password: unknown): string | undefined {
  if (typeof password !== "string" || password === "") return "password (postgresPassword) is empty or not text";
  const problem = passwordCharactersProblem(password);
  return problem ? `password (postgresPassword) ${problem}` : undefined;
}

/**
 * The SCRAM-SHA-256 secret PostgreSQL stores for `password` with this salt and iteration count (RFC 5802 and 7677,
 * PostgreSQL's scram_build_secret): SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations),
 * StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key").
 * Pure: the caller brings the salt (random bytes in the provider, fixed ones in tests).
 */
export function scramSecret(password: string, salt: Buffer, iterations: number = SCRAM_ITERATIONS): string {
  const crypto = require("node:crypto") as typeof import("node:crypto");
  const salted = crypto.pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const hmac = (key: Buffer, text: string) => crypto.createHmac("sha256", key).update(text, "utf8").digest();
  const storedKey = crypto.createHash("sha256").update(hmac(salted, "Client Key")).digest();
  const serverKey = hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Which server answers: its version number, read first (it is also the wait's probe). */
export function serverVersionStatement(): Statement {
  return use.sql`SELECT current_setting('server_version_num')`;
}

/**
 * The statement that sets the connected role's password to a SCRAM secret (pure). The secret is written into the
 * SQL text, so no psql variable (which would travel in argv) carries it; that is safe because only a string of the
 * SCRAM_SECRET form is accepted, which has no quote, backslash or anything but base64, `$` and `:`. Anything else
 * would be taken by PostgreSQL for a plain password and hashed again, so it throws instead.
 */
export function setPasswordStatement(secret: string): Statement {
  if (!SCRAM_SECRET.test(secret)) throw new Error("setPasswordStatement: not a SCRAM-SHA-256 secret (the value is not shown)");
  return { parts: [`ALTER ROLE CURRENT_USER PASSWORD '${secret}'`], params: [] };
}

/**
 * The connected role's stored password secret, '' when it has none (pure). pg_authid is readable by superusers only,
 * which the image's POSTGRES_USER is; for another role the statement fails, and the read cannot tell.
 */
export function storedSecretStatement(): Statement {
  return use.sql`SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = current_user`;
}

/**
 * Whether a stored secret is that of `password` (pure): a SCRAM-SHA-256 secret is computed again with its own salt
 * and iterations and compared. Anything else (an MD5 hash, no password) is not what the stack sets: not in force.
 */
export function secretMatches(stored: string, password: string): boolean {
  const parts = SCRAM_SECRET.test(stored) ? stored.match(/^SCRAM-SHA-256\$(\d+):([^$]+)\$/) : null;
  return parts !== null && scramSecret(password, Buffer.from(parts[2], "base64"), Number(parts[1])) === stored;
}

/** One step of a message: why, and the command (argv) to run on the Docker host. */
export interface RenameStep {
  why: string;
  argv: string[];
}

/** The names before and after, and the containers the steps act on. */
export interface RenameChange {
  from: { user: string; database: string };
  to: { user: string; database: string };
  postgresContainer: string;
  metamcpContainer: string;
}

/** `"name"`, a PostgreSQL identifier as written in SQL (pure). */
function identifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `docker exec <postgres> psql -U <role> -d postgres -c <sql>`: over the container's local socket, as its superuser. */
function psqlStep(container: string, role: string, statement: string): string[] {
  return ["docker", "exec", container, "psql", "-U", role, "-d", "postgres", "-c", statement];
}

/**
 * The commands that rename MetaMCP's role and database in place, keeping the data (pure). The role first: a
 * session cannot rename its own role, so a helper superuser does it and is dropped afterwards (a SCRAM password
 * survives a rename). Then the database, which cannot be renamed while MetaMCP holds connections to it: MetaMCP is
 * stopped first (the next `pulumi up` replaces it anyway, since its DATABASE_URL changes).
 */
export function renameSteps(change: RenameChange): RenameStep[] {
  const { from, to, postgresContainer: pg } = change;
  const steps: RenameStep[] = [];
  if (from.user !== to.user) {
    steps.push(
      { why: "a helper superuser (a role cannot rename itself)", argv: psqlStep(pg, from.user, `CREATE ROLE ${RENAME_HELPER_ROLE} SUPERUSER LOGIN`) },
      { why: "the rename", argv: psqlStep(pg, RENAME_HELPER_ROLE, `ALTER ROLE ${identifier(from.user)} RENAME TO ${identifier(to.user)}`) },
      { why: "the helper is dropped", argv: psqlStep(pg, to.user, `DROP ROLE ${RENAME_HELPER_ROLE}`) },
    );
  }
  if (from.database !== to.database) {
    steps.push(
      { why: "MetaMCP lets go of the database", argv: ["docker", "stop", change.metamcpContainer] },
      { why: "the rename", argv: psqlStep(pg, to.user, `ALTER DATABASE ${identifier(from.database)} RENAME TO ${identifier(to.database)}`) },
    );
  }
  return steps;
}

/** A step as a shell command line, each word quoted when it needs it (pure). */
export function commandLine(argv: readonly string[]): string {
  return argv.map((word) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : use.shellQuote(word))).join(" ");
}

/** The steps as numbered lines for a message (pure). */
function stepLines(steps: RenameStep[]): string {
  return steps.map((step, i) => `  ${i + 1}. ${commandLine(step.argv)}   (${step.why})`).join("\n");
}

/**
 * Why a change of MetaMCP's role or database name is refused, or undefined (pure). `olds` are the inputs recorded
 * by the last deployment ({} on the first one: nothing to compare). One failure names every change, with the steps
 * in the order they must run.
 */
export function renameProblem(olds: Partial<PostgresCredentialsInputs>, news: PostgresCredentialsInputs): dynamic.CheckFailure | undefined {
  if (news.acceptRename) return undefined;
  const changed = (["user", "database"] as const).filter((key) => typeof olds[key] === "string" && olds[key] !== news[key]);
  if (changed.length === 0) return undefined;
  const from = { user: olds.user ?? news.user, database: olds.database ?? news.database };
  const to = { user: news.user, database: news.database };
  const setting = (key: "user" | "database") => (key === "user" ? "database.user" : "database.name");
  const what = changed.map((key) => `${setting(key)} would change from "${from[key]}" to "${to[key]}"`).join(" and ");
  const steps = renameSteps({ from, to, postgresContainer: news.postgresContainer, metamcpContainer: news.metamcpContainer });
  return {
    property: changed[0],
    reason:
      `${what}, but Postgres keeps its roles and databases in its data volume and applies POSTGRES_USER and ` +
      `POSTGRES_DB only to an empty one: MetaMCP would fail to log in. To rename in place and keep the data, run on ` +
      `the Docker host:\n${stepLines(steps)}\nthen, for that one update, set metamcp-guard:database.acceptRename true ` +
      `(and back to false afterwards). To keep the names, set ${changed.map((key) => `${setting(key)} back to "${from[key]}"`).join(" and ")}.`,
  };
}

/** Input problems, one per property (pure). Unknown values (a container a preview will replace) are not judged. */
export function checkCredentialsInputs(olds: Partial<PostgresCredentialsInputs>, news: PostgresCredentialsInputs): dynamic.CheckFailure[] {
  const failures = [...use.containerTargetProblems(news), ...use.waitTimeoutProblems(news.waitTimeoutMs)];
  if ((news.password as unknown) !== use.unknown) {
    const problem = passwordProblem(news.password);
    if (problem) failures.push({ property: "password", reason: problem });
  }
  if (typeof news.acceptRename !== "boolean") {
    failures.push({ property: "acceptRename", reason: `acceptRename must be true or false, got ${JSON.stringify(news.acceptRename)}` });
  }
  const rename = renameProblem(olds, news);
  if (rename) failures.push(rename);
  return failures;
}

/** What makes the password be applied again: where, as whom, and the password itself (pure). */
const APPLIED_KEYS = ["dockerHost", "hostKey", "containerId", "user", "database", "password"] as const;

/**
 * A change of the password, the role, the database or the container (a replaced Postgres: its data may be a
 * volume initialised with another password) is an update, which applies the password again (pure); so is a
 * password that refresh found changed by hand (`olds` are the recorded outputs). acceptRename, the container names
 * and the wait are not: nothing in the database depends on them.
 */
export function diffCredentials(olds: Partial<PostgresCredentialsOutputs>, news: Partial<PostgresCredentialsInputs>): dynamic.DiffResult {
  const changes = olds.passwordInForce === false || APPLIED_KEYS.some((key) => olds[key] !== news[key]);
  return { changes, replaces: [], deleteBeforeReplace: false };
}

/** A psql connection error that says the role does not exist (pure): it will not appear by waiting. */
export function isRoleMissing(message: string): boolean {
  return /FATAL:\s+role "[^"]*" does not exist/.test(message);
}

/** A psql connection error that says the database does not exist (pure): it may, while a first start creates it. */
export function isDatabaseMissing(message: string): boolean {
  return /FATAL:\s+database "[^"]*" does not exist/.test(message);
}

/** What to do when the data has no role of that name (pure). */
export function roleMissingMessage(where: string, inputs: PostgresCredentialsInputs): string {
  const steps = renameSteps({
    from: { user: "OLD_ROLE", database: inputs.database },
    to: { user: inputs.user, database: inputs.database },
    postgresContainer: inputs.postgresContainer,
    metamcpContainer: inputs.metamcpContainer,
  });
  return (
    `${where}: the data volume has no role "${inputs.user}". It was initialised with another database.user ` +
    "(POSTGRES_USER applies only to an empty data directory). Set database.user back to the role the data has, or " +
    `rename that role (OLD_ROLE below) in place and run pulumi up again:\n${stepLines(steps)}`
  );
}

/** The error when Postgres never took psql's connection in time: what was seen last, and what to check (pure). */
export function timeoutMessage(where: string, timeoutMs: number, lastSeen: string, inputs: PostgresCredentialsInputs): string {
  const base =
    `could not set the password of ${where}: Postgres did not accept psql's connection within ` +
    `${Math.round(timeoutMs / 1000)} s. Check that the container runs and what it logs: docker logs ${inputs.postgresContainer}. ` +
    `Last seen: ${lastSeen}`;
  if (!isDatabaseMissing(lastSeen)) return base;
  const steps = renameSteps({
    from: { user: inputs.user, database: "OLD_DATABASE" },
    to: { user: inputs.user, database: inputs.database },
    postgresContainer: inputs.postgresContainer,
    metamcpContainer: inputs.metamcpContainer,
  });
  return (
    `${base}\nThe data volume has no database "${inputs.database}": it was initialised with another database.name ` +
    "(POSTGRES_DB applies only to an empty data directory). Set database.name back to the database the data has, " +
    `or rename that database (OLD_DATABASE below) in place and run pulumi up again:\n${stepLines(steps)}`
  );
}
