/**
 * MetaMCP's Postgres: its image, a named data volume that outlives every container (and, in
 * protected stacks, the stack), and the container under its own hard limits.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { containerName, guardedContainerArgs, LABEL_STACK } from "../containerSettings";
import { PidsLimit } from "../pidsLimit";

export const POSTGRES_PORT = 5432;
/** The name MetaMCP reaches Postgres by on the private network. */
export const POSTGRES_HOST = "postgres";

export interface PostgresArgs {
  config: StackConfig;
  provider: docker.Provider;
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
  readonly container: docker.Container;
  readonly pidsLimit: PidsLimit;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("metamcp-guard:index:Postgres", name, {}, opts);
    const { config, provider, network, password } = args;
    const db = config.database;
    const childOpts = { parent: this, provider };

    const image = new docker.RemoteImage(`${name}-image`, { name: db.image, keepLocally: true }, childOpts);

    // The data must survive every update: never deleted by Pulumi (retainOnDelete), and in
    // protected stacks `pulumi destroy` refuses to touch it at all.
    const volume = new docker.Volume(
      `${name}-data`,
      { name: db.volumeName, labels: [{ label: LABEL_STACK, value: config.stack }] },
      { ...childOpts, protect: config.protectData, retainOnDelete: true },
    );

    const name_ = containerName(config, "db");
    this.container = new docker.Container(
      `${name}-container`,
      {
        name: name_,
        image: image.imageId,
        ...guardedContainerArgs(config, "db", db),
        init: true,
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
      // Fixed names: the old container must go before its replacement can take the name.
      // Health-check edits are not applied in place by this provider version, so replace.
      { ...childOpts, deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"] },
    );

    this.pidsLimit = new PidsLimit(
      `${name}-pids`,
      { dockerHost: config.dockerHost, containerId: this.container.id, limit: db.limits.pids },
      { parent: this },
    );

    this.containerId = this.container.id;
    this.containerName = this.container.name;
    this.volumeName = volume.name;
    this.databaseUrl = pulumi.secret(
      pulumi.interpolate`postgresql://${db.user}:${password.apply(encodeURIComponent)}@${POSTGRES_HOST}:${POSTGRES_PORT}/${db.name}`,
    );
    this.registerOutputs({
      containerId: this.containerId,
      containerName: this.containerName,
      volumeName: this.volumeName,
      databaseUrl: this.databaseUrl,
    });
  }
}
