/**
 * Everything one stack declares, in the order it depends on: the Docker host, the host's
 * systemd slices (when enabled), the stack's networks, Postgres (unless external), MetaMCP,
 * and the process monitor with its keeper. Exported as a function so tests can build several
 * stacks in one process.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { SecretOutputs, StackConfig } from "./config";
import { containerName, describeLimits, guardLabels } from "./containerSettings";
import { readinessEnvs } from "./components/externalDatabase";
import { MetaMcp } from "./components/metamcp";
import { ProcessMonitor } from "./components/monitor";
import { Postgres } from "./components/postgres";
import { SessionGuard } from "./components/sessionGuard";
import { HostSlices, MonitorKeeper } from "./host";
import { dockerHostKey } from "./config/schema/host";
import { MetaMcpSettings } from "./metamcpSettings";
import { dockerProviderSshOpts } from "./sshPin";

/** The bridge driver's switch for NAT of outgoing traffic; "false" leaves a network without a route out. */
export const NO_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade";

export interface StackOutputs {
  url: pulumi.Output<string>;
  containers: Record<string, pulumi.Output<string>>;
  dataVolume?: pulumi.Output<string>;
  monitorMetricsUrl?: pulumi.Output<string>;
  guardMetricsUrl?: pulumi.Output<string>;
  limits: Record<string, ReturnType<typeof describeLimits>>;
}

export function buildStack(config: StackConfig, secrets: SecretOutputs): StackOutputs {
  // An explicit provider: the stack's host comes from its config, never from whatever
  // DOCKER_HOST the person running `pulumi up` happens to have set. Over ssh:// its ssh accepts the
  // pinned host key and no other (the config refuses an ssh:// dockerHost without one).
  const hostKey = dockerHostKey(config);
  const provider = new docker.Provider("docker", {
    host: config.dockerHost,
    ...(hostKey ? { sshOpts: dockerProviderSshOpts(hostKey) } : {}),
  });

  // systemd slices on the host (when enabled): limits `docker update` cannot lift. Declares
  // nothing when host.slices.enabled is false.
  const host = new HostSlices("host", { settings: config, privateKey: secrets.sshPrivateKey });

  // Postgres lives only on this network: internal, so it has no route out and no published port.
  const backend = new docker.Network(
    "backend",
    {
      name: `${config.namePrefix}-backend`,
      internal: true,
      labels: guardLabels(config, "db"),
    },
    { provider },
  );
  // MetaMCP's own network: it publishes the port and lets MCP servers (npx, uvx) download packages.
  const frontend = new docker.Network(
    "frontend",
    { name: `${config.namePrefix}-frontend`, labels: guardLabels(config, "app") },
    { provider },
  );
  // The monitor's alone: it needs a network only to publish /metrics on the host's loopback. Not
  // internal (Docker publishes no port from one), but without masquerading, so no route out, and no
  // MCP server can reach /metrics or /healthz.
  const monitorNetwork = config.monitor.enabled
    ? new docker.Network(
        "monitor-network",
        {
          name: `${config.namePrefix}-monitor`,
          options: { [NO_MASQUERADE]: "false" },
          labels: guardLabels(config, "monitor"),
        },
        { provider },
      )
    : undefined;

  const limits: StackOutputs["limits"] = { app: describeLimits(config.app.limits) };
  const containers: StackOutputs["containers"] = {};
  let databaseUrl: pulumi.Output<string>;
  let databaseEnv: pulumi.Input<string>[] = [];
  let database: Postgres | undefined;

  if (config.database.mode === "internal") {
    database = new Postgres("postgres", { config, provider, host, network: backend, password: secrets.postgresPassword! });
    databaseUrl = database.databaseUrl;
    databaseEnv = database.clientEnv;
    containers.database = database.containerName;
    limits.database = describeLimits(config.database.limits);
  } else {
    databaseUrl = secrets.databaseUrl!;
    databaseEnv = readinessEnvs(databaseUrl);
  }

  // With the session guard, clients (and a reverse proxy) reach MetaMCP only through it: the guard
  // joins MetaMCP's network and the proxy's, publishes the port and carries the proxy's labels.
  const proxyNetworks = config.proxy ? [config.proxy.network] : [];
  const metamcp = new MetaMcp("metamcp", {
    config,
    provider,
    host,
    networks: [frontend.name, backend.name, ...(config.guard.enabled ? [] : proxyNetworks)],
    publishPort: !config.guard.enabled,
    labels: config.guard.enabled ? undefined : config.proxy?.labels,
    authSecret: secrets.authSecret!,
    databaseUrl,
    databaseEnv,
    dependsOn: database ? [database] : [],
  });
  containers.metamcp = metamcp.containerName;

  // MetaMCP's own settings live in its database, in a table its migrations create when its
  // container starts: written after it, and read back on refresh.
  new MetaMcpSettings(
    "metamcp-settings",
    {
      sessionLifetimeMs: config.app.settings.sessionLifetime === "off" ? null : config.app.settings.sessionLifetime,
      maxAttempts: config.app.settings.maxAttempts,
      database: database
        ? { dockerHost: config.dockerHost, hostKey, containerId: database.containerId, user: config.database.user, database: config.database.name }
        : { databaseUrl },
    },
    { dependsOn: [metamcp] },
  );

  let guardMetricsUrl: pulumi.Output<string> | undefined;
  if (config.guard.enabled) {
    const guard = new SessionGuard("guard", {
      config,
      provider,
      host,
      upstreamName: metamcp.containerName,
      networks: [frontend.name, ...proxyNetworks],
      dependsOn: [metamcp],
    });
    containers.guard = guard.containerName;
    limits.guard = describeLimits(config.guard.limits);
    guardMetricsUrl = guard.metricsUrl;
  }

  let metricsUrl: pulumi.Output<string> | undefined;
  if (config.monitor.enabled) {
    const monitor = new ProcessMonitor("monitor", {
      config,
      provider,
      host,
      targetContainerId: metamcp.containerId,
      network: monitorNetwork!.name,
      // It joins MetaMCP's PID namespace: MetaMCP must run, which its PidsLimit sees to.
      dependsOn: [metamcp.pidsLimit],
    });
    containers.monitor = monitor.containerName;
    limits.monitor = describeLimits(config.monitor.limits);
    metricsUrl = monitor.metricsUrl;
    // Starts the monitor again when Docker's restart policy gives up on it after a MetaMCP crash
    // (docs/host-slices.md, "The monitor keeper"). Declares nothing when host.keeper is off.
    new MonitorKeeper("keeper", {
      settings: config,
      containers: { monitor: containerName(config, "monitor"), app: containerName(config, "app") },
      privateKey: secrets.sshPrivateKey,
      dependsOn: [monitor],
    });
  }

  return {
    url: metamcp.url,
    containers,
    dataVolume: database?.volumeName,
    monitorMetricsUrl: metricsUrl,
    guardMetricsUrl,
    limits,
  };
}
