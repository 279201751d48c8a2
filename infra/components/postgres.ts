/**
 * MetaMCP's Postgres: its image, a named data volume that outlives every container (and, in
 * protected stacks, the stack), and the container under its own hard limits.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { containerName, LABEL_STACK } from "../containerSettings";
import type { HostSlices } from "../host";
import type { PidsLimit } from "../pidsLimit";
import { VolumeLock } from "../dataVolume/lock";
import { PostgresCredentials } from "../postgresCredentials";
import { dockerHostKey } from "../config/schema/host";
import { guardedContainer } from "./guardedContainer";

export const POSTGRES_PORT = 5432;
/** The name MetaMCP reaches Postgres by on the private network. */
export const POSTGRES_HOST = "postgres";
/** tini as PID 1 for Postgres too: it forwards signals, so a stop is a clean shutdown. */
export const POSTGRES_INIT = true;
/**
 * Seconds Postgres gets to shut down cleanly, on `docker stop` (stopTimeout) and when Pulumi replaces
 * or deletes the container (destroyGraceSeconds; without it the provider kills at once, and the next
 * start has to recover: "database system was not properly shut down").
 */
export const POSTGRES_STOP_GRACE_SECONDS = 60;

export interface PostgresArgs {
  config: StackConfig;
  provider: docker.Provider;
  /** The host's systemd slices, when the stack enables them. */
  host?: HostSlices;
  /** The stack's private network; Postgres is reachable only there and publishes no port. */
  network: docker.Network;
  password: pulumi.Output<string>;
}

export class Postgres extends pulumi.ComponentResource {
  readonly containerId: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;
  readonly volumeName: pulumi.Output<string>;
  /** postgresql://user:password@host:5432/db, a secret. */
  readonly databaseUrl: pulumi.Output<string>;
  /** The POSTGRES_* variables MetaMCP's own compose file sets beside DATABASE_URL (the password secret). */
  readonly clientEnv: pulumi.Input<string>[];
  readonly container: docker.Container;
  readonly pidsLimit: PidsLimit;
  /** The role's password applied inside the database; MetaMCP's container must depend on it (or on this component). */
  readonly credentials: PostgresCredentials;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("metamcp-guard:index:Postgres", name, {}, opts);
    const { config, provider, network, password } = args;
    const db = config.database;
    const childOpts = { parent: this, provider };

    const image = new docker.RemoteImage(`${name}-image`, { name: db.image, keepLocally: true }, childOpts);

    // The data must survive every update: never deleted by Pulumi (retainOnDelete), never swapped
    // for an empty volume by a rename (the lock refuses it at preview), and in protected stacks
    // `pulumi destroy` refuses to touch it at all.
    const lock = new VolumeLock(`${name}-volume-lock`, { volumeName: db.volumeName, acceptNewVolume: db.acceptNewVolume }, { parent: this });
    const volume = new docker.Volume(
      `${name}-data`,
      { name: db.volumeName, labels: [{ label: LABEL_STACK, value: config.stack }] },
      { ...childOpts, protect: config.protectData, retainOnDelete: true, dependsOn: [lock] },
    );

    ({ container: this.container, pidsLimit: this.pidsLimit } = guardedContainer(
      name,
      {
        config,
        role: "db",
        host: args.host,
        limits: db.limits,
        restart: db.restart,
        container: {
          image: image.imageId,
          init: POSTGRES_INIT,
          stopTimeout: POSTGRES_STOP_GRACE_SECONDS,
          destroyGraceSeconds: POSTGRES_STOP_GRACE_SECONDS,
          envs: [
            `POSTGRES_USER=${db.user}`,
            `POSTGRES_DB=${db.name}`,
            pulumi.interpolate`POSTGRES_PASSWORD=${password}`,
          ],
          mounts: [{ type: "volume", source: volume.name, target: "/var/lib/postgresql/data" }],
          networksAdvanced: [{ name: network.name, aliases: [POSTGRES_HOST] }],
          healthcheck: {
            tests: ["CMD-SHELL", `pg_isready -U ${db.user} -d ${db.name}`],
            interval: "10s",
            timeout: "5s",
            retries: 5,
            startPeriod: "30s",
          },
        },
      },
      // Health-check edits are not applied in place by this provider version, so replace.
      { ...childOpts, replaceOnChanges: ["healthcheck"] },
    ));

    // The image applies POSTGRES_* only to an empty volume. A new password replaces this container, and the new one
    // starts on the old data: the password is set inside the database once it runs (its PidsLimit starts it), and
    // MetaMCP, which depends on this component, starts after. A rename of the role or database is refused at
    // preview, unless the stack file says it was done in place (infra/postgresCredentials).
    this.credentials = new PostgresCredentials(
      `${name}-credentials`,
      {
        dockerHost: config.dockerHost,
        hostKey: dockerHostKey(config),
        containerId: this.container.id,
        user: db.user,
        database: db.name,
        password,
        acceptRename: db.acceptRename,
        postgresContainer: containerName(config, "db"),
        metamcpContainer: containerName(config, "app"),
      },
      { parent: this, dependsOn: [this.pidsLimit] },
    );

    this.containerId = this.container.id;
    this.containerName = this.container.name;
    this.volumeName = volume.name;
    this.databaseUrl = pulumi.secret(
      pulumi.interpolate`postgresql://${db.user}:${password.apply(encodeURIComponent)}@${POSTGRES_HOST}:${POSTGRES_PORT}/${db.name}`,
    );
    this.clientEnv = [
      `POSTGRES_HOST=${POSTGRES_HOST}`,
      `POSTGRES_PORT=${POSTGRES_PORT}`,
      `POSTGRES_USER=${db.user}`,
      `POSTGRES_DB=${db.name}`,
      pulumi.interpolate`POSTGRES_PASSWORD=${password}`,
    ];
    this.registerOutputs({
      containerId: this.containerId,
      containerName: this.containerName,
      volumeName: this.volumeName,
      databaseUrl: this.databaseUrl,
    });
  }
}
