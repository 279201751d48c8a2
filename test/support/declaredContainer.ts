/**
 * A docker.Container as the program declares it (its inputs recorded under Pulumi mocks) turned into
 * `docker create` flags: the limits, init, restart policy, user, read-only root, capabilities, security
 * options, environment, labels, log rotation, health check and stop timeout the provider would send.
 * The PID cap is not among them: @pulumi/docker cannot set it either; PidsLimit applies it.
 *
 * What a machine without a registry or a bridge cannot do as declared is the caller's to choose: the
 * network (`network`, e.g. host), the PID namespace to join (`pidMode`, a real container id) and
 * environment entries to replace (`env`).
 *
 * And what the provider does when it deletes or replaces a declared container (removeAsTheProviderDoes).
 */
import { dockerRequest } from "../../infra/dockerEngine/transport";
import { unwrapSecret } from "./mocks";

export interface CreateOverrides {
  /** Another name than the declared one (a test must not take a real stack's container name). */
  name?: string;
  network?: string;
  pidMode?: string;
  /** Variables to set or replace, by name. */
  env?: Record<string, string>;
  /** Labels to add (the tests' own, for cleanup). */
  labels?: Record<string, string>;
}

/** The environment a container declares, as a map (secrets unwrapped: tests run with test secrets). */
export function declaredEnv(inputs: Record<string, any>): Record<string, string> {
  const entries = (unwrapSecret<unknown[]>(inputs.envs) ?? []).map((entry) => String(unwrapSecret(entry)));
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
}

export function createFlags(inputs: Record<string, any>, overrides: CreateOverrides = {}): string[] {
  const flags: string[] = [];
  const add = (flag: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== "") flags.push(flag, String(value));
  };
  add("--name", overrides.name ?? inputs.name);
  add("--memory", inputs.memory !== undefined ? `${inputs.memory}m` : undefined);
  add("--memory-swap", inputs.memorySwap !== undefined ? `${inputs.memorySwap}m` : undefined);
  add("--cpus", inputs.cpus);
  if (inputs.init) flags.push("--init");
  add("--restart", inputs.restart);
  add("--user", inputs.user);
  if (inputs.readOnly) flags.push("--read-only");
  for (const cap of inputs.capabilities?.drops ?? []) add("--cap-drop", cap);
  for (const cap of inputs.capabilities?.adds ?? []) add("--cap-add", cap);
  for (const option of inputs.securityOpts ?? []) add("--security-opt", option);
  add("--stop-timeout", inputs.stopTimeout);
  add("--log-driver", inputs.logDriver);
  for (const [key, value] of Object.entries(inputs.logOpts ?? {})) add("--log-opt", `${key}=${value}`);
  for (const { label, value } of inputs.labels ?? []) add("--label", `${label}=${value}`);
  for (const [label, value] of Object.entries(overrides.labels ?? {})) add("--label", `${label}=${value}`);
  for (const [name, value] of Object.entries({ ...declaredEnv(inputs), ...overrides.env })) add("-e", `${name}=${value}`);
  const check = inputs.healthcheck as { tests?: string[]; interval?: string; timeout?: string; retries?: number; startPeriod?: string } | undefined;
  if (check?.tests?.length) {
    // The CLI takes a shell command; the exec form's words, each quoted, run the same program.
    const [form, ...command] = check.tests;
    add("--health-cmd", form === "CMD-SHELL" ? command.join(" ") : command.map(shellQuote).join(" "));
    add("--health-interval", check.interval);
    add("--health-timeout", check.timeout);
    add("--health-retries", check.retries);
    add("--health-start-period", check.startPeriod);
  }
  add("--network", overrides.network);
  add("--pid", overrides.pidMode ?? inputs.pidMode);
  return flags;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Deletes a container the way the provider (kreuzwerker/terraform-provider-docker v4.5.0, which @pulumi/docker 5.x
 * wraps: internal/provider/resource_docker_container_funcs.go, resourceDockerContainerDelete) deletes or replaces
 * one: `ContainerStop` with `destroy_grace_seconds` as the timeout (0 when unset: the stop signal, then at once
 * SIGKILL), then `ContainerRemove` with force, then a wait until it no longer runs. Through the Engine API, as the
 * provider calls it. Resolves with the seconds the stop took.
 */
export async function removeAsTheProviderDoes(dockerHost: string, id: string, destroyGraceSeconds: number | undefined): Promise<number> {
  const started = Date.now();
  const stop = await dockerRequest(dockerHost, "POST", `/containers/${id}/stop?t=${destroyGraceSeconds ?? 0}`, undefined, {
    timeoutMs: ((destroyGraceSeconds ?? 0) + 30) * 1000,
  });
  if (stop.status !== 204 && stop.status !== 304) throw new Error(`stop ${id}: ${stop.status} ${stop.body}`);
  const stoppedAfter = (Date.now() - started) / 1000;
  const removed = await dockerRequest(dockerHost, "DELETE", `/containers/${id}?force=true`);
  if (removed.status !== 204) throw new Error(`remove ${id}: ${removed.status} ${removed.body}`);
  return stoppedAfter;
}
