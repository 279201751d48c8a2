/**
 * Dynamic provider for MetaMcpSettings: keeps MetaMCP's SESSION_LIFETIME and MCP_MAX_ATTEMPTS rows at the declared
 * values.
 *  - create/update: wait for MetaMCP's `config` table (its migrations create it when its container starts), write
 *    both rows in one transaction, read them back.
 *  - read: the rows' current values, so `pulumi preview --refresh` shows a change made in MetaMCP's UI as drift,
 *    which the next `up` writes back.
 *  - diff: pure; every change is an in-place update (the rows live in the database, not in a container).
 *  - delete: leaves the rows as they are. They belong to MetaMCP's database, which outlives the stack's
 *    resources (the data volume is retained); removing them would put MetaMCP back on its defaults, one crash
 *    attempt and sessions that never expire, which is what this resource exists to prevent.
 *
 * Pulumi serializes `metaMcpSettingsProvider` and everything it references into the state, like PidsLimit's (read
 * ../pidsLimit/provider.ts and ../dockerEngine/transport.ts): `import type` only from @pulumi/pulumi, the I/O
 * functions copied into the local object `api`, errors recognised by code. The decisions (check, diff, the
 * target, the outputs) are pure functions, tested without a database.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { applySettings, readSettings, type DatabaseTarget } from "./database";
import { isContainerNotFound, parseDockerHost } from "../dockerEngine/transport";
import { parseDatabaseUrl, settingsProblems, type StoredSettings } from "./settings";
import { hostKeyProblem } from "../sshPin";

/** What the program declares: the two settings as rows hold them, and one way to reach MetaMCP's database. */
export interface MetaMcpSettingsInputs {
  /** SESSION_LIFETIME in milliseconds, decimal text; absent = no lifetime (the row is removed, as MetaMCP's UI does). */
  sessionLifetime?: string;
  /** MCP_MAX_ATTEMPTS, decimal text. */
  maxAttempts: string;
  /** The internal Postgres: the Docker host, the Postgres container, and MetaMCP's role and database in it. */
  dockerHost?: string;
  /** For an ssh:// dockerHost, the host's pinned public key (`type base64`); public, so plain in the state. */
  hostKey?: string;
  containerId?: string;
  user?: string;
  database?: string;
  /** Or an external database: its URL (a secret), used from where Pulumi runs. */
  databaseUrl?: string;
  /** How long create/update wait for MetaMCP's `config` table (ms); DEFAULT_WAIT_TIMEOUT_MS when absent. */
  waitTimeoutMs?: number;
}

/** What the state records: the inputs, with the settings as last read from the rows (absent = no row). */
export type MetaMcpSettingsOutputs = Omit<MetaMcpSettingsInputs, "maxAttempts"> & { maxAttempts?: string };

/** Long enough for a first start: Postgres initialising its volume, then MetaMCP waiting for it and migrating. */
export const DEFAULT_WAIT_TIMEOUT_MS = 180_000;
export const MIN_WAIT_TIMEOUT_MS = 1_000;
export const MAX_WAIT_TIMEOUT_MS = 3_600_000;
/** PostgreSQL truncates longer names (NAMEDATALEN - 1), so a longer one would name another role or database. */
const MAX_NAME_BYTES = 63;
/** The resource's id: there is one pair of rows per database, and the id must never carry the secret URL. */
const RESOURCE_ID = "metamcp-settings";

const api = { applySettings, hostKeyProblem, isContainerNotFound, parseDatabaseUrl, parseDockerHost, readSettings, settingsProblems };

/**
 * The engine's placeholder for a value not known yet (e.g. the id of a container that a preview will replace);
 * @pulumi/pulumi/runtime/rpc `unknownValue`, copied so the SDK is not captured.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const CONTAINER_KEYS = ["dockerHost", "containerId", "user", "database"] as const;

/** Input problems, one per property (pure). Unknown values are not judged: they are checked on `up`. */
export function checkMetaMcpSettingsInputs(news: Partial<Record<keyof MetaMcpSettingsInputs, unknown>>): dynamic.CheckFailure[] {
  const failures: dynamic.CheckFailure[] = [];
  const known = (v: unknown) => v !== UNKNOWN;
  const present = (v: unknown) => v !== undefined && v !== null;

  failures.push(
    ...api
      .settingsProblems({ sessionLifetime: news.sessionLifetime, maxAttempts: news.maxAttempts })
      .filter((problem) => known(news[problem.property])),
  );

  if (present(news.databaseUrl)) {
    const mixed = CONTAINER_KEYS.filter((k) => present(news[k]));
    if (mixed.length > 0) {
      failures.push({
        property: mixed[0],
        reason: `give either databaseUrl (an external database) or ${CONTAINER_KEYS.join(", ")} (the internal Postgres), not both; also set: ${mixed.join(", ")}`,
      });
    }
    if (known(news.databaseUrl)) {
      try {
        api.parseDatabaseUrl(news.databaseUrl);
      } catch (err) {
        failures.push({ property: "databaseUrl", reason: (err as Error).message });
      }
    }
  } else {
    failures.push(...containerTargetProblems(news, "an external database needs databaseUrl"));
  }
  failures.push(...waitTimeoutProblems(news.waitTimeoutMs));
  return failures;
}

/**
 * Problems with the way into the stack's Postgres container: dockerHost, containerId, user and database (pure).
 * Shared with PostgresCredentials, which reaches the same container the same way; `otherwise` ends the message
 * for a missing key (what the resource accepts instead). Unknown values are not judged.
 */
export function containerTargetProblems(
  news: Partial<Record<(typeof CONTAINER_KEYS)[number] | "hostKey", unknown>>,
  otherwise?: string,
): dynamic.CheckFailure[] {
  const failures: dynamic.CheckFailure[] = [];
  const hostKey = news.hostKey;
  const hasHostKey = hostKey !== undefined && hostKey !== null;
  for (const key of CONTAINER_KEYS) {
    const value = news[key];
    if (value === UNKNOWN) continue;
    if (typeof value !== "string" || value.trim() === "") {
      failures.push({
        property: key,
        reason: `${key} must be a non-empty string, got ${JSON.stringify(value)} (the internal Postgres needs ${CONTAINER_KEYS.join(", ")}${otherwise ? `; ${otherwise}` : ""})`,
      });
    } else if (key === "dockerHost") {
      try {
        // Over SSH only with the host's key pinned (the stack's host.ssh.hostKey).
        if (api.parseDockerHost(value).kind === "ssh" && !hasHostKey) {
          failures.push({ property: "hostKey", reason: `hostKey is required for the ssh:// Docker host ${JSON.stringify(value)} (the stack's host.ssh.hostKey)` });
        }
      } catch (err) {
        failures.push({ property: key, reason: (err as Error).message });
      }
    } else if ((key === "user" || key === "database") && Buffer.byteLength(value) > MAX_NAME_BYTES) {
      failures.push({ property: key, reason: `${key} ${JSON.stringify(value)} is longer than PostgreSQL's ${MAX_NAME_BYTES} bytes` });
    }
  }
  if (hasHostKey && hostKey !== UNKNOWN) {
    const problem = api.hostKeyProblem(hostKey);
    if (problem) failures.push({ property: "hostKey", reason: `hostKey ${problem}` });
  }
  return failures;
}

/** The problem with an optional `waitTimeoutMs`, if any (pure; an unknown value is not judged). */
export function waitTimeoutProblems(wait: unknown): dynamic.CheckFailure[] {
  if (wait === undefined || wait === null || wait === UNKNOWN) return [];
  if (typeof wait === "number" && Number.isInteger(wait) && wait >= MIN_WAIT_TIMEOUT_MS && wait <= MAX_WAIT_TIMEOUT_MS) return [];
  return [
    {
      property: "waitTimeoutMs",
      reason: `waitTimeoutMs must be a whole number of milliseconds from ${MIN_WAIT_TIMEOUT_MS} to ${MAX_WAIT_TIMEOUT_MS}, got ${JSON.stringify(wait)}`,
    },
  ];
}

/** The way into the database that the inputs name (pure; inputs already checked). */
export function targetOf(inputs: Partial<MetaMcpSettingsOutputs>): DatabaseTarget {
  if (typeof inputs.databaseUrl === "string" && inputs.databaseUrl !== "") return { kind: "url", databaseUrl: inputs.databaseUrl };
  const { dockerHost, hostKey, containerId, user, database } = inputs;
  if (!dockerHost || !containerId || !user || !database) {
    throw new Error(`MetaMcpSettings: no way into the database recorded (need databaseUrl, or ${CONTAINER_KEYS.join(", ")}); import is not supported`);
  }
  // A state from before pins were recorded has no hostKey: ssh then checks the user's own known_hosts.
  return { kind: "container", dockerHost, ...(hostKey ? { hostKey } : {}), containerId, user, database };
}

/** The state to record: the inputs, with the settings replaced by what the rows hold (pure). */
export function outputsOf(inputs: MetaMcpSettingsOutputs, stored: StoredSettings): MetaMcpSettingsOutputs {
  const { sessionLifetime: _declaredLifetime, maxAttempts: _declaredAttempts, ...rest } = inputs;
  const outs: MetaMcpSettingsOutputs = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined && value !== null) (outs as Record<string, unknown>)[key] = value;
  }
  if (stored.sessionLifetime !== undefined) outs.sessionLifetime = stored.sessionLifetime;
  if (stored.maxAttempts !== undefined) outs.maxAttempts = stored.maxAttempts;
  return outs;
}

/**
 * Any difference is an in-place update, which rewrites both rows (pure). `olds` are the recorded outputs, so a
 * value changed in MetaMCP's UI and seen by refresh shows up here as a change to write back. A new Postgres
 * container or a new URL is an update too: the rows are data in the database, nothing to replace.
 */
export function diffMetaMcpSettings(olds: Partial<MetaMcpSettingsOutputs>, news: Partial<MetaMcpSettingsInputs>): dynamic.DiffResult {
  const keys: (keyof MetaMcpSettingsInputs)[] = [
    "sessionLifetime", "maxAttempts", "dockerHost", "hostKey", "containerId", "user", "database", "databaseUrl", "waitTimeoutMs",
  ];
  const same = (a: unknown, b: unknown) => (a ?? undefined) === (b ?? undefined);
  return { changes: keys.some((k) => !same(olds[k], news[k])), replaces: [], deleteBeforeReplace: false };
}

export const metaMcpSettingsProvider: dynamic.ResourceProvider<MetaMcpSettingsInputs, MetaMcpSettingsOutputs> = {
  async check(_olds: MetaMcpSettingsInputs, news: MetaMcpSettingsInputs): Promise<dynamic.CheckResult<MetaMcpSettingsInputs>> {
    return { inputs: news, failures: checkMetaMcpSettingsInputs(news) };
  },

  async diff(_id: string, olds: MetaMcpSettingsOutputs, news: MetaMcpSettingsInputs): Promise<dynamic.DiffResult> {
    return diffMetaMcpSettings(olds, news);
  },

  async create(inputs: MetaMcpSettingsInputs): Promise<dynamic.CreateResult<MetaMcpSettingsOutputs>> {
    const stored = await api.applySettings(targetOf(inputs), inputs, inputs.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS);
    return { id: RESOURCE_ID, outs: outputsOf(inputs, stored) };
  },

  /** The rows as they are now; a vanished Postgres container makes the resource vanish (the next up writes again). */
  async read(id: string, props?: MetaMcpSettingsOutputs): Promise<dynamic.ReadResult<MetaMcpSettingsOutputs>> {
    if (!props) throw new Error(`MetaMcpSettings ${id}: cannot read without the recorded state (import is not supported)`);
    try {
      return { id, props: outputsOf(props, await api.readSettings(targetOf(props))) };
    } catch (err) {
      if (api.isContainerNotFound(err)) return {}; // no id: the engine drops the resource from the state
      throw err;
    }
  },

  async update(_id: string, _olds: MetaMcpSettingsOutputs, news: MetaMcpSettingsInputs): Promise<dynamic.UpdateResult<MetaMcpSettingsOutputs>> {
    const stored = await api.applySettings(targetOf(news), news, news.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS);
    return { outs: outputsOf(news, stored) };
  },

  /** Leaves MetaMCP's rows as they are (see the header for why). */
  async delete(): Promise<void> {},
};
