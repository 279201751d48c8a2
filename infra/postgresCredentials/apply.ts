/**
 * The I/O of PostgresCredentials: set the password of MetaMCP's role inside the stack's Postgres container, by the
 * path MetaMcpSettings uses for the internal database (../metamcpSettings/database.ts): psql run by the Engine API
 * exec (../dockerEngine/exec.ts), connected as the role over the container's local socket, which the postgres image
 * trusts, so no password is needed to get in. What psql receives on stdin is the SCRAM secret (./credentials.ts),
 * never the password; its argv and environment hold no value at all.
 *
 * The Postgres container may have just been created: it initialises an empty volume, or recovers after a kill,
 * before it answers. So the first statement (the server's version) is retried while the server is not reachable
 * yet, up to the wait's deadline, then the password is set.
 *
 * Part of the serialized provider (see ../dockerEngine/transport.ts): other modules' functions through `use`,
 * builtins required inside functions, errors recognised by code.
 */
import { describeTarget, isRetryable, runStatements, type DatabaseTarget, type RunOptions } from "../metamcpSettings/database";
import { isSettingsError, redactSecrets, settingsError } from "../metamcpSettings/settings";
import {
  isRoleMissing,
  secretMatches,
  storedSecretStatement,
  MIN_SERVER_VERSION_NUM,
  roleMissingMessage,
  SCRAM_ITERATIONS,
  SCRAM_SALT_BYTES,
  scramSecret,
  serverVersionStatement,
  setPasswordStatement,
  timeoutMessage,
  type PostgresCredentialsInputs,
} from "./credentials";

const use = {
  describeTarget, isRetryable, isRoleMissing, isSettingsError, redactSecrets, roleMissingMessage, runStatements, scramSecret,
  secretMatches, serverVersionStatement, setPasswordStatement, settingsError, storedSecretStatement, timeoutMessage,
};
const scram = { iterations: SCRAM_ITERATIONS, saltBytes: SCRAM_SALT_BYTES, minServerVersion: MIN_SERVER_VERSION_NUM };

/** How often the wait tries to connect. */
const POLL_MS = 1_000;

/** The Postgres container the inputs name, as MetaMcpSettings' database code reaches it (pure). */
export function containerTarget(inputs: PostgresCredentialsInputs): Extract<DatabaseTarget, { kind: "container" }> {
  // A state from before pins were recorded has no hostKey: ssh then checks the user's own known_hosts.
  return {
    kind: "container",
    dockerHost: inputs.dockerHost,
    ...(inputs.hostKey ? { hostKey: inputs.hostKey } : {}),
    containerId: inputs.containerId,
    user: inputs.user,
    database: inputs.database,
  };
}

/** The same error with every spelling of the secrets removed from its message (for psql's echo of a statement). */
function scrubbed(err: unknown, secrets: string[]): unknown {
  if (!use.isSettingsError(err)) return err;
  return use.settingsError(err.code, use.redactSecrets(err.message, secrets));
}

/** One attempt: read the server's version, refuse a server too old for SCRAM secrets, set the password. */
async function setPassword(inputs: PostgresCredentialsInputs, options: RunOptions): Promise<void> {
  const target = containerTarget(inputs);
  const version = Number(await use.runStatements(target, [use.serverVersionStatement()], options));
  if (!(version >= scram.minServerVersion)) {
    throw use.settingsError(
      "SERVER_TOO_OLD",
      `${use.describeTarget(target)} runs PostgreSQL ${Number.isFinite(version) ? version : "(unknown version)"}, which cannot store a ` +
        "SCRAM-SHA-256 password; database.image must be PostgreSQL 10 or newer",
    );
  }
  const crypto = require("node:crypto") as typeof import("node:crypto");
  const secret = use.scramSecret(inputs.password, crypto.randomBytes(scram.saltBytes), scram.iterations);
  try {
    await use.runStatements(target, [use.setPasswordStatement(secret)], options);
  } catch (err) {
    throw scrubbed(err, [secret, inputs.password]);
  }
}

/**
 * Sets the password of `inputs.user` in the Postgres container to `inputs.password`, waiting up to `waitTimeoutMs`
 * for the server to accept psql's connection. Rejects at once with ROLE_MISSING (the data has no such role; waiting
 * will not make one) or SERVER_TOO_OLD, after the deadline with DB_TIMEOUT naming what was seen last, and with any
 * error that retrying cannot cure (a statement that failed, no psql, the container gone) as it is.
 */
export async function applyPassword(inputs: PostgresCredentialsInputs, waitTimeoutMs: number, options: RunOptions = {}): Promise<void> {
  const where = use.describeTarget(containerTarget(inputs));
  const deadline = Date.now() + waitTimeoutMs;
  for (;;) {
    let lastSeen: string;
    try {
      return await setPassword(inputs, options);
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (use.isSettingsError(err, "DB_UNREACHABLE") && use.isRoleMissing(message)) {
        throw use.settingsError("ROLE_MISSING", use.roleMissingMessage(where, inputs));
      }
      if (!use.isRetryable(err)) throw err;
      lastSeen = message;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw use.settingsError("DB_TIMEOUT", use.timeoutMessage(where, waitTimeoutMs, lastSeen, inputs));
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
  }
}

/**
 * Whether the role's stored password is `inputs.password` now, for refresh; undefined when that cannot be told: the
 * container not running, Postgres not answering, or the role not allowed to read pg_authid (SQL_FAILED). Rejects
 * with the container's absence (CONTAINER_NOT_FOUND) and with anything else as it is. No waiting.
 */
export async function passwordInForce(inputs: PostgresCredentialsInputs, options: RunOptions = {}): Promise<boolean | undefined> {
  try {
    const stored = await use.runStatements(containerTarget(inputs), [use.storedSecretStatement()], options);
    return use.secretMatches(stored, inputs.password);
  } catch (err) {
    if (use.isRetryable(err) || use.isSettingsError(err, "SQL_FAILED")) return undefined;
    throw err;
  }
}
