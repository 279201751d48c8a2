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
import { MetaMcp } from "./components/metamcp";
import { ProcessMonitor } from "./components/monitor";
import { Postgres } from "./components/postgres";
import { HostSlices, MonitorKeeper } from "./host";

export interface StackOutputs {
  url: pulumi.Output<string>;
  containers: Record<string, pulumi.Output<string>>;
  dataVolume?: pulumi.Output<string>;
  monitorMetricsUrl?: pulumi.Output<string>;
  limits: Record<string, ReturnType<typeof describeLimits>>;
}

export function buildStack(config: StackConfig, secrets: SecretOutputs): StackOutputs {
  // An explicit provider: the stack's host comes from its config, never from whatever
  // DOCKER_HOST the person running `pulumi up` happens to have set.
  const provider = new docker.Provider("docker", { host: config.dockerHost });

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
  }

  const metamcp = new MetaMcp("metamcp", {
    config,
    provider,
    host,
    networks: [frontend.name, backend.name, ...(config.proxy ? [config.proxy.network] : [])],
    authSecret: secrets.authSecret!,
    databaseUrl,
    databaseEnv,
    dependsOn: database ? [database] : [],
  });
  containers.metamcp = metamcp.containerName;

  let metricsUrl: pulumi.Output<string> | undefined;
  if (config.monitor.enabled) {
    const monitor = new ProcessMonitor("monitor", {
      config,
      provider,
      host,
      targetContainerId: metamcp.containerId,
      network: frontend.name,
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
    limits,
  };
}
