/**
 * MetaMcpSettings: MetaMCP's own SESSION_LIFETIME and MCP_MAX_ATTEMPTS as part of the stack. MetaMCP 2.4.22 keeps
 * them as rows of its `config` table (set only in its UI; no environment variable) and reads them on every use.
 * This resource writes them once MetaMCP's migrations have created the table, reads them back on refresh (so
 * `pulumi preview --refresh` shows a change made in the UI), and leaves the rows as they are on delete.
 *
 *     // internal Postgres: psql in the Postgres container, through the Engine API
 *     new MetaMcpSettings(`${name}-settings`, {
 *       sessionLifetimeMs: 86_400_000,
 *       maxAttempts: 3,
 *       database: { dockerHost, containerId: postgres.id, user: "metamcp_user", database: "metamcp_db" },
 *     }, { parent: this, dependsOn: [metamcpContainer] });
 *
 *     // external database: node-postgres from where Pulumi runs
 *     new MetaMcpSettings("settings", { sessionLifetimeMs: null, maxAttempts: 3, database: { databaseUrl } }, …);
 *
 * Declare it after MetaMCP's container (`dependsOn`): the table appears only once that container has started and
 * run its migrations; create/update wait for it (`waitTimeoutMs`, default 3 minutes) and then say what to check.
 *
 * The Pulumi type token is `pulumi-nodejs:dynamic/metamcp-guard:MetaMcpSettings` (what mocks see in `args.type`).
 */
import * as pulumi from "@pulumi/pulumi";
import { metaMcpSettingsProvider } from "./provider";

export { DEFAULT_WAIT_TIMEOUT_MS } from "./provider";
export {
  MAX_MAX_ATTEMPTS,
  MAX_SESSION_LIFETIME_MS,
  MIN_MAX_ATTEMPTS,
  MIN_SESSION_LIFETIME_MS,
} from "./settings";

/** The stack's internal Postgres: psql runs inside its container over the local socket (trusted, no password). */
export interface InternalDatabase {
  /** Docker host string, as given to docker.Provider: `unix:///var/run/docker.sock`, `tcp://h:p`, `ssh://u@h`. */
  dockerHost: pulumi.Input<string>;
  /** For an ssh:// dockerHost, the host's pinned public key (`type base64`, host.ssh.hostKey); required there. */
  hostKey?: pulumi.Input<string | undefined>;
  /** Id of the Postgres container; pass `container.id`, so a new container gets the settings written again. */
  containerId: pulumi.Input<string>;
  /** MetaMCP's role and database (POSTGRES_USER, POSTGRES_DB). */
  user: pulumi.Input<string>;
  database: pulumi.Input<string>;
}

/** An external database, reached from where Pulumi runs. */
export interface ExternalDatabase {
  /** `postgres://user:password@host:port/database` (MetaMCP's DATABASE_URL); kept secret in the state. */
  databaseUrl: pulumi.Input<string>;
}

export interface MetaMcpSettingsArgs {
  /**
   * SESSION_LIFETIME: absolute age in milliseconds after which MetaMCP closes an MCP session (300000 to 86400000,
   * MetaMCP's own bounds), or null for none: the row is removed, which is how MetaMCP's UI switches it off, and
   * sessions then never expire.
   */
  sessionLifetimeMs: pulumi.Input<number | null>;
  /** MCP_MAX_ATTEMPTS: crashes tolerated before MetaMCP marks a server ERROR for everyone (1 to 10; MetaMCP's default 1). */
  maxAttempts: pulumi.Input<number>;
  /** Where MetaMCP's database is. */
  database: InternalDatabase | ExternalDatabase;
  /** How long create/update wait for MetaMCP's `config` table, in ms (1000 to 3600000; default 180000). */
  waitTimeoutMs?: number;
}

/** A number as MetaMCP writes it into a row (`String(n)`); a fraction or NaN stays visible, and check refuses it. */
function rowText(value: number | null | undefined): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

export class MetaMcpSettings extends pulumi.dynamic.Resource {
  // `declare`: with target ES2022, a plain field declaration would be emitted as a class field initialised to
  // undefined after super() returns, wiping the outputs the Resource constructor has just set.
  /** SESSION_LIFETIME as the row holds it (decimal ms), as last read; undefined = no row (no lifetime). */
  declare readonly sessionLifetime: pulumi.Output<string | undefined>;
  /** MCP_MAX_ATTEMPTS as the row holds it, as last read; undefined = no row (MetaMCP then uses 1). */
  declare readonly maxAttempts: pulumi.Output<string | undefined>;
  declare readonly dockerHost: pulumi.Output<string | undefined>;
  declare readonly hostKey: pulumi.Output<string | undefined>;
  declare readonly containerId: pulumi.Output<string | undefined>;
  declare readonly user: pulumi.Output<string | undefined>;
  declare readonly database: pulumi.Output<string | undefined>;
  /** The external database's URL; a secret output. */
  declare readonly databaseUrl: pulumi.Output<string | undefined>;

  constructor(name: string, args: MetaMcpSettingsArgs, opts?: pulumi.CustomResourceOptions) {
    // Both ways' properties are always passed (undefined for the way not taken), so every output field exists.
    const external = "databaseUrl" in args.database ? args.database : undefined;
    const internal = "databaseUrl" in args.database ? undefined : args.database;
    super(
      metaMcpSettingsProvider,
      name,
      {
        sessionLifetime: pulumi.output(args.sessionLifetimeMs).apply(rowText),
        maxAttempts: pulumi.output(args.maxAttempts).apply(rowText),
        dockerHost: internal?.dockerHost,
        hostKey: internal?.hostKey,
        containerId: internal?.containerId,
        user: internal?.user,
        database: internal?.database,
        databaseUrl: external ? pulumi.secret(external.databaseUrl) : undefined,
        waitTimeoutMs: args.waitTimeoutMs,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "databaseUrl"] },
      "metamcp-guard",
      "MetaMcpSettings",
    );
  }
}
