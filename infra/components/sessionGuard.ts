/**
 * The session guard: a reverse proxy in front of MetaMCP, on the port clients use, that ends MCP
 * sessions nobody uses any more with the protocol's own DELETE, so MetaMCP closes their server groups
 * itself and counts no crash (guard/README.md). It publishes MetaMCP's port; MetaMCP publishes none.
 * Least privilege: a non-root user, every capability dropped, a read-only root, its own limits.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { METAMCP_PORT } from "../config/schema/app";
import { guardEnvironment, GUARD_LISTEN_PORT, GUARD_METRICS_PORT } from "../guard/env";
import type { HostSlices } from "../host";
import { contextHash, GUARD_CONTEXT } from "../images/buildContext";
import type { PidsLimit } from "../pidsLimit";
import { guardedContainer } from "./guardedContainer";

/** The image's own probe of its /healthz (guard/src/healthcheck.ts), declared so policy and verify see it. */
export const GUARD_HEALTHCHECK = ["CMD", "node", "/app/dist/healthcheck.js"];
/** The `node` user of the official Node images, by number, so any base works without a passwd entry. */
export const GUARD_USER = "1000:1000";
/** It forwards HTTP and sends DELETEs: no capability at all. */
export const GUARD_CAPABILITIES = { drops: ["ALL"] };
/** It writes nothing: a read-only root means a compromised guard cannot rewrite itself. */
export const GUARD_READ_ONLY_ROOT = true;
/** Seconds to stop: the guard drains open requests for 5 s (GUARD_DRAIN_TIMEOUT) on SIGTERM. */
export const GUARD_STOP_GRACE_SECONDS = 10;

export interface SessionGuardArgs {
  config: StackConfig;
  provider: docker.Provider;
  /** The host's systemd slices, when the stack enables them. */
  host?: HostSlices;
  /** MetaMCP's container name: the guard reaches it by that name on the network they share. */
  upstreamName: pulumi.Input<string>;
  /** Networks to join: MetaMCP's, and a reverse proxy's when one is configured. */
  networks: pulumi.Input<string>[];
  /** Resources that must exist first (MetaMCP). */
  dependsOn?: pulumi.Resource[];
}

export class SessionGuard extends pulumi.ComponentResource {
  readonly containerId: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;
  /** Where Prometheus scrapes the guard, on the Docker host's loopback. */
  readonly metricsUrl: pulumi.Output<string>;
  readonly container: docker.Container;
  readonly pidsLimit: PidsLimit;

  constructor(name: string, args: SessionGuardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("metamcp-guard:index:SessionGuard", name, {}, opts);
    const { config, provider } = args;
    const guard = config.guard;
    const app = config.app;
    const childOpts = { parent: this, provider };

    const image = guard.image
      ? new docker.RemoteImage(`${name}-image`, { name: guard.image, keepLocally: true }, childOpts).imageId
      : new docker.Image(
          `${name}-image`,
          {
            imageName: `${config.namePrefix}-guard:${contextHash(GUARD_CONTEXT)}`,
            build: { context: GUARD_CONTEXT, dockerfile: `${GUARD_CONTEXT}/Dockerfile` },
            skipPush: true,
          },
          childOpts,
        ).imageName;

    const envs = pulumi.output(args.upstreamName).apply((upstreamName) =>
      Object.entries(
        guardEnvironment(guard, { upstream: `http://${upstreamName}:${METAMCP_PORT}`, behindProxy: config.proxy !== undefined }),
      ).map(([key, value]) => `${key}=${value}`),
    );
    ({ container: this.container, pidsLimit: this.pidsLimit } = guardedContainer(
      name,
      {
        config,
        role: "guard",
        host: args.host,
        limits: guard.limits,
        restart: guard.restart,
        // A reverse proxy routes to the guard now, so its labels (Traefik routers, …) go here.
        labels: config.proxy?.labels,
        dependsOn: args.dependsOn,
        container: {
          image,
          init: true,
          user: GUARD_USER,
          capabilities: GUARD_CAPABILITIES,
          readOnly: GUARD_READ_ONLY_ROOT,
          envs,
          networksAdvanced: args.networks.map((network) => ({ name: network })),
          ports: [
            { internal: GUARD_LISTEN_PORT, external: app.port, ip: app.bindAddress },
            { internal: GUARD_METRICS_PORT, external: guard.metrics.hostPort, ip: "127.0.0.1" },
          ],
          healthcheck: { tests: GUARD_HEALTHCHECK, interval: "30s", timeout: "5s", retries: 3, startPeriod: "10s" },
          stopTimeout: GUARD_STOP_GRACE_SECONDS,
          destroyGraceSeconds: GUARD_STOP_GRACE_SECONDS,
        },
      },
      // Health-check edits are not applied in place by this provider version, so replace.
      { ...childOpts, replaceOnChanges: ["healthcheck"] },
    ));

    this.containerId = this.container.id;
    this.containerName = this.container.name;
    this.metricsUrl = pulumi.output(`http://127.0.0.1:${guard.metrics.hostPort}/metrics`);
    this.registerOutputs({ containerId: this.containerId, containerName: this.containerName, metricsUrl: this.metricsUrl });
  }
}
