/**
 * The process-monitor sidecar: a container in MetaMCP's PID namespace that reaps leaked MCP
 * process trees. Least privilege: no Docker socket, every capability dropped but KILL, a
 * read-only root filesystem, and its own small limits.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { contextHash, MONITOR_CONTEXT } from "../images/buildContext";
import { monitorEnvironment } from "../monitor/env";
import type { HostSlices } from "../host";
import type { PidsLimit } from "../pidsLimit";
import { guardedContainer } from "./guardedContainer";

/** The monitor image's own probe of its /healthz (monitor/src/healthcheck.ts), declared so policy and verify see it. */
export const MONITOR_HEALTHCHECK = ["CMD", "node", "/app/dist/healthcheck.js"];
/** Signals to another user's processes need CAP_KILL; nothing else is needed to read /proc and reap. */
export const MONITOR_CAPABILITIES = { drops: ["ALL"], adds: ["KILL"] };
/** It only reads /proc and sends signals: a read-only root means a compromised monitor cannot rewrite itself. */
export const MONITOR_READ_ONLY_ROOT = true;

/** The monitor's PidMode: MetaMCP's PID namespace by container id, as the engine also reports it (verify compares it). */
export function monitorPidMode(appContainerId: string): string {
  return `container:${appContainerId}`;
}

export interface ProcessMonitorArgs {
  config: StackConfig;
  provider: docker.Provider;
  /** The host's systemd slices, when the stack enables them. */
  host?: HostSlices;
  /** MetaMCP's container id: the monitor joins its PID namespace. */
  targetContainerId: pulumi.Output<string>;
  /** The network its /metrics port is published from. */
  network: pulumi.Input<string>;
  /**
   * What starts MetaMCP's container (its PidsLimit): the monitor can only join a PID namespace that
   * exists, and MetaMCP's container is created stopped, so the monitor is created after it runs.
   */
  dependsOn?: pulumi.Resource[];
}

export class ProcessMonitor extends pulumi.ComponentResource {
  readonly containerId: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;
  /** Where Prometheus scrapes the monitor, on the Docker host's loopback. */
  readonly metricsUrl: pulumi.Output<string>;
  readonly container: docker.Container;
  readonly pidsLimit: PidsLimit;

  constructor(name: string, args: ProcessMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("metamcp-guard:index:ProcessMonitor", name, {}, opts);
    const { config, provider } = args;
    const monitor = config.monitor;
    const childOpts = { parent: this, provider };

    const image = monitor.image
      ? new docker.RemoteImage(`${name}-image`, { name: monitor.image, keepLocally: true }, childOpts).imageId
      : new docker.Image(
          `${name}-image`,
          {
            imageName: `${config.namePrefix}-monitor:${contextHash(MONITOR_CONTEXT)}`,
            build: { context: MONITOR_CONTEXT, dockerfile: `${MONITOR_CONTEXT}/Dockerfile` },
            skipPush: true,
          },
          childOpts,
        ).imageName;

    const env = monitorEnvironment(monitor, { limits: config.app.limits });
    ({ container: this.container, pidsLimit: this.pidsLimit } = guardedContainer(
      name,
      {
        config,
        role: "monitor",
        host: args.host,
        limits: monitor.limits,
        restart: monitor.restart,
        dependsOn: args.dependsOn,
        container: {
          image,
          // The id, not the name: a name reads back as container:<id> and would replace the monitor
          // on every run. A new MetaMCP container means a new id, so the monitor follows it.
          pidMode: args.targetContainerId.apply(monitorPidMode),
          capabilities: MONITOR_CAPABILITIES,
          readOnly: MONITOR_READ_ONLY_ROOT,
          envs: Object.entries(env).map(([key, value]) => `${key}=${value}`),
          networksAdvanced: [{ name: args.network }],
          ports: [{ internal: monitor.metrics.port, external: monitor.metrics.hostPort, ip: "127.0.0.1" }],
          healthcheck: { tests: MONITOR_HEALTHCHECK, interval: "30s", timeout: "5s", retries: 3, startPeriod: "10s" },
        },
      },
      // Health-check edits are not applied in place by this provider version, so replace.
      { ...childOpts, replaceOnChanges: ["healthcheck"] },
    ));

    this.containerId = this.container.id;
    this.containerName = this.container.name;
    this.metricsUrl = pulumi.output(`http://127.0.0.1:${monitor.metrics.hostPort}/metrics`);
    this.registerOutputs({ containerId: this.containerId, containerName: this.containerName, metricsUrl: this.metricsUrl });
  }
}
