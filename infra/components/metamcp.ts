/**
 * MetaMCP itself: its image and its container under hard memory, swap, CPU and PID limits,
 * with tini as PID 1 to reap zombies, a health check, and secrets only as Pulumi secrets.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { METAMCP_PORT } from "../config/schema/app";
import type { HostSlices } from "../host";
import type { PidsLimit } from "../pidsLimit";
import { guardedContainer } from "./guardedContainer";

export interface MetaMcpArgs {
  config: StackConfig;
  provider: docker.Provider;
  /** The host's systemd slices, when the stack enables them. */
  host?: HostSlices;
  /** Networks to join: the stack's own, and the proxy's when one is configured. */
  networks: pulumi.Input<string>[];
  /**
   * Whether MetaMCP publishes its port on the host itself: only when no session guard stands in
   * front of it (the guard publishes the port then, and nothing may reach MetaMCP around it).
   */
  publishPort: boolean;
  /** Labels beyond the stack's own, e.g. a reverse proxy's routers when MetaMCP is what it routes to. */
  labels?: Record<string, string>;
  authSecret: pulumi.Output<string>;
  databaseUrl: pulumi.Output<string>;
  /** Variables MetaMCP's own compose file sets next to DATABASE_URL (internal database only). */
  databaseEnv?: pulumi.Input<string>[];
  /** Resources that must be ready first, e.g. the database container. */
  dependsOn?: pulumi.Resource[];
}

/**
 * MetaMCP's image is Node-based and ships neither curl nor wget for sure; Node's own fetch
 * is always there.
 */
export const HEALTHCHECK_COMMAND = [
  "CMD",
  "node",
  "-e",
  `fetch('http://localhost:${METAMCP_PORT}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
];

/** Seconds MetaMCP's entrypoint gets to stop its backend and frontend (its TERM trap) before a kill. */
export const METAMCP_STOP_GRACE_SECONDS = 30;

export class MetaMcp extends pulumi.ComponentResource {
  /** Where operators reach MetaMCP. */
  readonly url: pulumi.Output<string>;
  readonly containerId: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;
  readonly container: docker.Container;
  readonly pidsLimit: PidsLimit;

  constructor(name: string, args: MetaMcpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("metamcp-guard:index:MetaMcp", name, {}, opts);
    const { config, provider } = args;
    const app = config.app;
    const childOpts = { parent: this, provider };

    const image = new docker.RemoteImage(`${name}-image`, { name: app.image, keepLocally: true }, childOpts);

    const plainEnv = Object.entries({
      ...app.env,
      APP_URL: app.publicUrl,
      NEXT_PUBLIC_APP_URL: app.publicUrl,
    }).map(([key, value]) => `${key}=${value}`);

    ({ container: this.container, pidsLimit: this.pidsLimit } = guardedContainer(
      name,
      {
        config,
        role: "app",
        host: args.host,
        limits: app.limits,
        restart: app.restart,
        labels: args.labels,
        dependsOn: args.dependsOn,
        container: {
          image: image.imageId,
          init: app.init,
          stopTimeout: METAMCP_STOP_GRACE_SECONDS,
          destroyGraceSeconds: METAMCP_STOP_GRACE_SECONDS,
          envs: [
            ...plainEnv,
            ...(args.databaseEnv ?? []),
            pulumi.interpolate`BETTER_AUTH_SECRET=${args.authSecret}`,
            pulumi.interpolate`DATABASE_URL=${args.databaseUrl}`,
          ],
          ports: args.publishPort ? [{ internal: METAMCP_PORT, external: app.port, ip: app.bindAddress }] : [],
          networksAdvanced: args.networks.map((network) => ({ name: network })),
          healthcheck: {
            tests: HEALTHCHECK_COMMAND,
            interval: app.healthcheck.interval,
            timeout: app.healthcheck.timeout,
            retries: app.healthcheck.retries,
            startPeriod: app.healthcheck.startPeriod,
          },
        },
      },
      // Health-check edits are not applied in place by this provider version, so replace.
      { ...childOpts, replaceOnChanges: ["healthcheck"] },
    ));

    this.url = pulumi.output(app.publicUrl);
    this.containerId = this.container.id;
    this.containerName = this.container.name;
    this.registerOutputs({ url: this.url, containerId: this.containerId, containerName: this.containerName });
  }
}
