/**
 * The stack's containers on a real Docker engine, as a stack file declares them: the program runs under
 * Pulumi mocks, and MetaMCP's, the session guard's and the monitor's recorded inputs become `docker
 * create` flags (limits, init, restart, user, read-only root, capabilities, security options,
 * environment, health checks), each container capped by our own PidsLimit provider before it starts,
 * and MetaMCP's settings written by our own MetaMcpSettings provider.
 *
 * What this run changes, because it runs anywhere (no registry, no bridge, no systemd host needed):
 *  - networks: every container uses the host's network; MetaMCP listens on 12008/12009 as inside its
 *    container, the guard on its own port in front of it, the monitor's /metrics on 127.0.0.1;
 *  - the database: external (`--database-url`), so no Postgres image is needed;
 *  - host slices are off (they need an SSH host), and the monitor keeper's timer is emulated: its own
 *    script, run here every 10 s, as the host's systemd timer runs it;
 *  - the guard's and the monitor's images are built from guard/ and monitor/ with `--node-image` as base.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { metaMcpSettingsProvider } from "../infra/metamcpSettings/provider";
import { pidsLimitProvider, type PidsLimitInputs } from "../infra/pidsLimit/provider";
import { createFlags, declaredEnv } from "../test/support/declaredContainer";
import { docker } from "../test/support/dockerCli";
import { declareStack, named, type RecordedResource } from "../test/support/mocks";
import { REPO_ROOT } from "../test/support/stackFiles";

/** Every container this run starts carries it; `--down` removes what carries it. */
export const E2E_LABEL = "metamcp-guard.e2e";
const DOCKER_HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
/** MetaMCP's own ports inside its network namespace, here the host's. */
export const METAMCP_PORTS = [12008, 12009];

export interface E2eOptions {
  /** MetaMCP's image, e.g. ghcr.io/metatool-ai/metamcp:2.4.22. */
  image: string;
  /** A throwaway PostgreSQL database for MetaMCP. */
  databaseUrl: string;
  /** The stack file the containers are declared from. */
  stackFile: string;
  /** Base image for building the guard and the monitor (their Dockerfiles' NODE_IMAGE). */
  nodeImage: string;
  guardPort: number;
  guardMetricsPort: number;
  monitorMetricsPort: number;
}

export interface RunningStack {
  app: string;
  guard: string;
  monitor: string;
  /** What the stack file declares, for the figures: MetaMCP's caps, the guard's idle timeout, … */
  declared: {
    appPids: number;
    appMemoryMiB: number;
    idleTimeout: string;
    sweepInterval: string;
    monitorInterval: string;
    maxAttempts: string;
    sessionLifetime: string | undefined;
    /** The monitor's emergency threshold: where the load passes what app.capacity declares. */
    emergencyTasks: string;
  };
}

export interface DeclaredE2eStack {
  resources: RecordedResource[];
  /** The MCP server groups the stack file's app.capacity plans for. */
  plannedGroups: number;
}

/** The stack file's declaration, with the changes this run needs (see the header). */
export async function declare(options: E2eOptions): Promise<DeclaredE2eStack> {
  const { resources, config } = await declareStack(
    "e2e",
    {
      "metamcp-guard:namePrefix": "mmg-e2e",
      "metamcp-guard:dockerHost": "unix:///var/run/docker.sock",
      "metamcp-guard:production": false,
      "metamcp-guard:database": { mode: "external" },
      "metamcp-guard:postgresPassword": undefined,
      "metamcp-guard:databaseUrl": options.databaseUrl,
      "metamcp-guard:app": { image: options.image },
      "metamcp-guard:host": { slices: { enabled: false }, keeper: { enabled: false }, ssh: undefined },
      "metamcp-guard:sshPrivateKey": undefined,
    },
    path.resolve(options.stackFile),
  );
  return { resources, plannedGroups: config.app.load.groups };
}

/** Builds the guard's and the monitor's images from their folders, as the stack's docker.Image does. */
export async function buildImages(resources: RecordedResource[], nodeImage: string): Promise<void> {
  for (const [name, folder] of [["guard-image", "guard"], ["monitor-image", "monitor"]] as const) {
    const tag = named(resources, name).inputs.imageName as string;
    await run("docker", ["build", "--force-rm", "--network", "host", "--build-arg", `NODE_IMAGE=${nodeImage}`, "-t", tag, path.join(REPO_ROOT, folder)], {
      DOCKER_BUILDKIT: "0",
    });
  }
}

/**
 * Creates one declared container, stopped, and has PidsLimit's own create cap it and start it (as
 * `pulumi up` does): its first process runs under the cap. Resolves to its id.
 */
async function startDeclared(resources: RecordedResource[], component: string, image: string, overrides: Parameters<typeof createFlags>[1]): Promise<string> {
  const inputs = named(resources, `${component}-container`).inputs;
  const id = await docker("create", ...createFlags(inputs, { ...overrides, labels: { [E2E_LABEL]: "1" } }), image);
  const pids = named(resources, `${component}-pids`).inputs;
  await pidsLimitProvider.create({ ...(pids as PidsLimitInputs), dockerHost: DOCKER_HOST, containerId: id });
  return id;
}

export async function startMetaMcp(resources: RecordedResource[], options: E2eOptions): Promise<string> {
  const url = `http://127.0.0.1:${options.guardPort}`;
  return startDeclared(resources, "metamcp", options.image, {
    network: "host",
    // The URL clients use here; MetaMCP builds links (OAuth, its UI) from it.
    env: { APP_URL: url, NEXT_PUBLIC_APP_URL: url, BETTER_AUTH_SECRET: randomHex(32) },
  });
}

/** MetaMCP's own settings, written by the MetaMcpSettings provider as `pulumi up` would (external database). */
export async function applySettings(resources: RecordedResource[], databaseUrl: string): Promise<void> {
  const inputs = named(resources, "metamcp-settings").inputs;
  await metaMcpSettingsProvider.create!({ ...inputs, databaseUrl, waitTimeoutMs: 300_000 } as never);
}

export async function startGuard(resources: RecordedResource[], options: E2eOptions): Promise<string> {
  const image = named(resources, "guard-image").inputs.imageName as string;
  return startDeclared(resources, "guard", image, {
    network: "host",
    env: {
      GUARD_UPSTREAM: "http://127.0.0.1:12008",
      GUARD_LISTEN_PORT: String(options.guardPort),
      GUARD_METRICS_HOST: "127.0.0.1",
      GUARD_METRICS_PORT: String(options.guardMetricsPort),
    },
  });
}

export async function startMonitor(resources: RecordedResource[], options: E2eOptions, appId: string): Promise<string> {
  const image = named(resources, "monitor-image").inputs.imageName as string;
  return startDeclared(resources, "monitor", image, {
    network: "host",
    pidMode: `container:${appId}`,
    env: { MONITOR_METRICS_HOST: "127.0.0.1", MONITOR_METRICS_PORT: String(options.monitorMetricsPort) },
  });
}

/** What the stack file declares that the figures are judged against. */
export function declaredFigures(resources: RecordedResource[]): RunningStack["declared"] {
  const app = named(resources, "metamcp-container").inputs;
  const guardEnv = declaredEnv(named(resources, "guard-container").inputs);
  const monitorEnv = declaredEnv(named(resources, "monitor-container").inputs);
  const settings = named(resources, "metamcp-settings").inputs;
  return {
    appPids: named(resources, "metamcp-pids").inputs.limit,
    appMemoryMiB: app.memory,
    idleTimeout: guardEnv.GUARD_IDLE_TIMEOUT,
    sweepInterval: guardEnv.GUARD_SWEEP_INTERVAL,
    monitorInterval: monitorEnv.MONITOR_INTERVAL,
    maxAttempts: settings.maxAttempts,
    sessionLifetime: settings.sessionLifetime,
    emergencyTasks: monitorEnv.MONITOR_EMERGENCY_TASKS,
  };
}

/** Removes every container this script started (by its label), running or not. */
export async function removeAll(): Promise<number> {
  const ids = (await docker("ps", "-aq", "--filter", `label=${E2E_LABEL}`)).split("\n").filter(Boolean);
  if (ids.length > 0) await docker("rm", "-f", ...ids);
  return ids.length;
}

function randomHex(bytes: number): string {
  return require("node:crypto").randomBytes(bytes).toString("hex");
}

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 900_000 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(" ")} failed: ${String(stderr).trim().split("\n").slice(-10).join("\n")}`)) : resolve(),
    );
  });
}
