/**
 * The process-monitor sidecar on a real engine, as the stack declares it (`monitor-container` and
 * `monitor-pids`, evaluated under mocks): in the target's PID namespace, its capabilities (all dropped but
 * KILL), read-only root, security options, limits, restart policy and environment, all taken from the
 * recorded inputs. What differs, because this machine has no registry and no bridge:
 *  - the image: the program compiled by test/monitor/support/build.ts (the monitor tests' builder), mounted
 *    into the Node test image at /app, run as uid 0 like the Dockerfile's `USER 0:0`;
 *  - the network: the host's, with /metrics on 127.0.0.1 and a free port (set through the stack config, so
 *    the stack's own checks apply), instead of the stack's network with a port published on 127.0.0.1.
 */
import * as net from "node:net";
import { docker } from "../../support/docker";
import { declareStack, named } from "../../support/mocks";
import { DOCKER_HOST, type GuardSpec, specOf, startGuarded } from "./guarded";
import { waitUntil } from "../../support/wait";

export interface MonitorSpec extends GuardSpec {
  env: Record<string, string>;
  /** `docker create` flags for the declared capabilities, read-only root and security options. */
  hardening: string[];
  metricsPort: number;
}

/**
 * The monitor as `stack` declares it, with `settings` merged into its `metamcp-guard:monitor` config first
 * (e.g. shorter graces for a one-minute test). `metrics.port` must be given: the monitor uses the host's
 * network, shared with everyone's tests.
 */
export async function declaredMonitorSpec(
  stack: "dev" | "prod",
  settings: Record<string, unknown> & { metrics: { port: number } },
): Promise<MonitorSpec> {
  const { resources } = await declareStack(stack, {
    "metamcp-guard:monitor": { ...settings, metrics: { host: "127.0.0.1", ...settings.metrics } },
  });
  const inputs = named(resources, "monitor-container").inputs;
  const env = Object.fromEntries(
    (inputs.envs as string[]).map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
  const caps = inputs.capabilities as { drops?: string[]; adds?: string[] } | undefined;
  const hardening = [
    ...(caps?.drops ?? []).flatMap((cap) => ["--cap-drop", cap]),
    ...(caps?.adds ?? []).flatMap((cap) => ["--cap-add", cap]),
    ...(inputs.readOnly ? ["--read-only"] : []),
    ...((inputs.securityOpts as string[] | undefined) ?? []).flatMap((opt) => ["--security-opt", opt]),
  ];
  if (!String(inputs.pidMode).startsWith("container:")) {
    throw new Error(`the ${stack} stack's monitor does not join a container's PID namespace: pidMode ${inputs.pidMode}`);
  }
  return { ...specOf(resources, stack, "monitor"), env, hardening, metricsPort: Number(env.MONITOR_METRICS_PORT) };
}

/** Starts the monitor watching `target` and waits for its /healthz. Resolves to the monitor's container id. */
export async function startMonitor(
  spec: MonitorSpec,
  target: string,
  options: { image: string; buildDir: string; dockerHost?: string },
): Promise<string> {
  const dockerHost = options.dockerHost ?? DOCKER_HOST;
  const id = await startGuarded(
    spec,
    [
      "--pid", `container:${target}`,
      "--user", "0:0",
      ...spec.hardening,
      "--network", "host",
      "-v", `${options.buildDir}:/app:ro`,
      ...Object.entries(spec.env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
      options.image, "node", "--max-semi-space-size=1", "/app/dist/main.js",
    ],
    dockerHost,
  );
  await waitUntil(() => monitorHealthy(spec.metricsPort), 15_000, `the monitor's /healthz on 127.0.0.1:${spec.metricsPort}`);
  return id;
}

/** True when the monitor answers 200 on /healthz (it does once scans keep coming). */
export async function monitorHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) });
    await res.text();
    return res.status === 200;
  } catch {
    return false;
  }
}

export type AuditRecord = { ts: string; event: string } & Record<string, any>;

/** The monitor's audit log (its stdout, one JSON object per line), across all its restarts. */
export async function auditLog(monitorId: string, dockerHost = DOCKER_HOST): Promise<AuditRecord[]> {
  const out = await docker("-H", dockerHost, "logs", monitorId);
  return out
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as AuditRecord);
}

