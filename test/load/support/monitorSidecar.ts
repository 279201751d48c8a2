/**
 * The process-monitor sidecar on a real engine, as the stack means to deploy it: in the target's PID
 * namespace (`--pid container:<id>`), uid 0 with every capability dropped but KILL, read-only root,
 * no-new-privileges, host network with /metrics on 127.0.0.1 only, under the limits and restart policy
 * the stack's `metamcp-guard:monitor` config declares, with the environment infra/monitor/env.ts derives
 * from that config (so a setting the stack would refuse is refused here too). The stack does not declare
 * the monitor's container yet, so the settings come from the parsed config rather than a recorded resource.
 *
 * No registry: the program is compiled by test/monitor/support/build.ts (the monitor tests' builder) and
 * mounted into the Node test image at /app, which is how the monitor's own engine tests run it.
 */
import * as net from "node:net";
import { monitorEnvironment } from "../../../infra/monitor/env";
import { bytesToMiB } from "../../../infra/config/units";
import { docker } from "../../support/docker";
import { declareStack } from "../../support/mocks";
import { DOCKER_HOST, type GuardSpec, startGuarded } from "./guarded";
import { waitUntil } from "./wait";

export interface MonitorSpec extends GuardSpec {
  env: Record<string, string>;
  metricsPort: number;
}

/**
 * The monitor's container settings and environment for `stack`, with `settings` merged into its
 * `metamcp-guard:monitor` config first (e.g. shorter graces for a one-minute test). `metrics.port` must be
 * given: the monitor uses the host's network, shared with everyone's tests.
 */
export async function declaredMonitorSpec(
  stack: "dev" | "prod",
  settings: Record<string, unknown> & { metrics: { port: number } },
): Promise<MonitorSpec> {
  const { config } = await declareStack(stack, {
    "metamcp-guard:monitor": { ...settings, metrics: { host: "127.0.0.1", ...settings.metrics } },
  });
  const { limits, restart } = config.monitor;
  return {
    stack,
    memoryMiB: bytesToMiB(limits.memory),
    memorySwapMiB: bytesToMiB(limits.memorySwap),
    cpus: String(limits.cpus),
    // The monitor is not PID 1 of its namespace (the target's init is): no init of its own.
    init: false,
    restart,
    pids: limits.pids,
    env: monitorEnvironment(config.monitor, config.app),
    metricsPort: config.monitor.metrics.port,
  };
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
      "--cap-drop", "ALL", "--cap-add", "KILL",
      "--read-only",
      "--security-opt", "no-new-privileges:true",
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

/** A TCP port free on 127.0.0.1 right now, for the monitor's /metrics on the shared host network. */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
