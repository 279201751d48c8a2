/**
 * PostgresCredentials: the password of MetaMCP's role in the stack's own Postgres, applied inside the running
 * database, because the postgres image applies POSTGRES_PASSWORD only to an empty data directory. Also refuses, at
 * preview, a rename of the role or the database (database.user, database.name), which the image would not apply
 * either, unless `acceptRename` says it was done in place. Refresh reads the stored password's SCRAM secret back
 * and tells whether it is still the declared password. See ./credentials.ts for the decisions.
 *
 *     const credentials = new PostgresCredentials(`${name}-credentials`, {
 *       dockerHost, containerId: container.id, user: "metamcp_user", database: "metamcp_db",
 *       password, acceptRename: false, postgresContainer: "metamcp-dev-postgres", metamcpContainer: "metamcp-dev",
 *     }, { parent: this, dependsOn: [pidsLimit] });   // the PidsLimit starts the container
 *
 * Pass `container.id`: a replaced Postgres container gets the password applied again (its env changed, but it
 * starts on the old data). Make MetaMCP's container depend on this resource, so a new MetaMCP starts only once the
 * role has the password in its DATABASE_URL. An external database has nothing to apply: there is no such resource.
 *
 * The Pulumi type token is `pulumi-nodejs:dynamic/metamcp-guard:PostgresCredentials`.
 */
import * as pulumi from "@pulumi/pulumi";
import { postgresCredentialsProvider } from "./provider";

export { DEFAULT_WAIT_TIMEOUT_MS } from "./credentials";

export interface PostgresCredentialsArgs {
  /** Docker host string, as given to docker.Provider. */
  dockerHost: pulumi.Input<string>;
  /** For an ssh:// dockerHost, the host's pinned public key (the stack's host.ssh.hostKey). */
  hostKey?: pulumi.Input<string>;
  /** Id of the Postgres container. */
  containerId: pulumi.Input<string>;
  /** MetaMCP's role and database (POSTGRES_USER, POSTGRES_DB). */
  user: pulumi.Input<string>;
  database: pulumi.Input<string>;
  /** The role's password; kept secret in the state whatever is passed. */
  password: pulumi.Input<string>;
  /** Let a change of user or database through (the stack file's database.acceptRename). */
  acceptRename: pulumi.Input<boolean>;
  /** The containers' names, for the steps the messages give. */
  postgresContainer: pulumi.Input<string>;
  metamcpContainer: pulumi.Input<string>;
  /** How long create/update wait for Postgres to accept a connection, in ms (1000 to 3600000; default 180000). */
  waitTimeoutMs?: number;
}

export class PostgresCredentials extends pulumi.dynamic.Resource {
  // `declare`: see MetaMcpSettings (a plain field would wipe the outputs the Resource constructor sets).
  declare readonly containerId: pulumi.Output<string>;
  declare readonly user: pulumi.Output<string>;
  declare readonly database: pulumi.Output<string>;
  /** A secret output. */
  declare readonly password: pulumi.Output<string>;
  /** True once applied; false when refresh found another password stored (the next up sets it back). */
  declare readonly passwordInForce: pulumi.Output<boolean>;

  constructor(name: string, args: PostgresCredentialsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      postgresCredentialsProvider,
      name,
      { ...args, password: pulumi.secret(args.password) },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "password"] },
      "metamcp-guard",
      "PostgresCredentials",
    );
  }
}
