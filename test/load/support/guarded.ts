/**
 * Containers on the local engine under exactly the limits a stack declares for MetaMCP.
 *
 * The settings come from the real program evaluated under Pulumi mocks (declareStack), never from numbers
 * written here, so a change to Pulumi.prod.yaml or to containerSettings.ts changes what these tests load.
 * The PID cap goes through our own PidsLimit provider (`create`), as `pulumi up` applies it, not through
 * `docker run --pids-limit`.
 */
import { pidsLimitProvider, type PidsLimitInputs } from "../../../infra/pidsLimit/provider";
import { docker, testLabelArgs } from "../../support/docker";
import { declareStack, named, type RecordedResource } from "../../support/mocks";

/** The engine the docker CLI talks to, as a Docker host string for the PidsLimit provider. */
export const DOCKER_HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";

const MiB = 1024 * 1024;

/** What the stack declares for one of its containers, in the units @pulumi/docker takes. */
export interface GuardSpec {
  stack: string;
  /** MiB (docker.Container `memory`). */
  memoryMiB: number;
  /** MiB, memory plus swap (docker.Container `memorySwap`). */
  memorySwapMiB: number;
  /** Decimal text, as Docker parses `--cpus`. */
  cpus: string;
  init: boolean;
  restart: string;
  /** The PidsLimit resource's `limit`. */
  pids: number;
}

/**
 * The settings the program declares for `stack`'s MetaMCP container (component "metamcp") or its Postgres
 * container ("postgres"): `<component>-container` and its `<component>-pids` PidsLimit.
 */
export async function declaredSpec(stack: "dev" | "prod", component: "metamcp" | "postgres" = "metamcp"): Promise<GuardSpec> {
  const { resources } = await declareStack(stack);
  return specOf(resources, stack, component);
}

/** The GuardSpec of `<component>-container` and `<component>-pids` among recorded resources. */
export function specOf(resources: RecordedResource[], stack: string, component: string): GuardSpec {
  const container = named(resources, `${component}-container`).inputs;
  const pids = named(resources, `${component}-pids`).inputs;
  const spec: GuardSpec = {
    stack,
    memoryMiB: container.memory,
    memorySwapMiB: container.memorySwap,
    cpus: container.cpus,
    // @pulumi/docker sends an unset init as false.
    init: container.init ?? false,
    restart: container.restart,
    pids: pids.limit,
  };
  // A missing input would silently drop a limit from `docker create` below; refuse instead.
  for (const [key, value] of Object.entries(spec)) {
    if (value === undefined || value === null || value === "") {
      throw new Error(`the ${stack} stack declares no ${key} for ${component}-container; inputs were ${JSON.stringify(container)}`);
    }
  }
  return spec;
}

/** `docker create` flags for the limits, init and restart policy the spec holds (pure). */
export function guardRunArgs(spec: GuardSpec): string[] {
  return [
    "--memory", `${spec.memoryMiB}m`,
    "--memory-swap", `${spec.memorySwapMiB}m`,
    "--cpus", spec.cpus,
    ...(spec.init ? ["--init"] : []),
    "--restart", spec.restart,
  ];
}

/** The PidsLimit inputs the stack declares for a container under the spec (pure). */
export function pidsLimitInputs(spec: GuardSpec, containerId: string, dockerHost = DOCKER_HOST): PidsLimitInputs {
  return {
    dockerHost,
    containerId,
    limit: spec.pids,
    memory: spec.memoryMiB * MiB,
    memorySwap: spec.memorySwapMiB * MiB,
    running: true,
  };
}

/**
 * Creates a labelled container under the spec's limits, stopped, and lets the PidsLimit provider's `create`
 * cap it and start it, as `pulumi up` does: no process of the test ever runs uncapped. Resolves to the
 * container id. `args` are further `docker create` flags, then image and command.
 */
export async function startGuarded(spec: GuardSpec, args: string[], dockerHost = DOCKER_HOST): Promise<string> {
  const id = await createWithoutPidCap(spec, args, dockerHost);
  const created = await pidsLimitProvider.create(pidsLimitInputs(spec, id, dockerHost));
  if (created.outs?.limit !== spec.pids || created.outs.running !== true) {
    throw new Error(`PidsLimit create reported ${JSON.stringify(created.outs)} on ${id}, expected limit ${spec.pids} and running`);
  }
  // What the engine recorded must be exactly the spec, or every figure measured on it would be about
  // some other configuration.
  const [inspected] = JSON.parse(await docker("-H", dockerHost, "inspect", id)) as Array<{ HostConfig: Record<string, any> }>;
  const host = inspected.HostConfig;
  const recorded = {
    memory: host.Memory,
    memorySwap: host.MemorySwap,
    nanoCpus: host.NanoCpus,
    init: host.Init === true, // absent or null when not set
    restart: host.RestartPolicy?.Name,
    pids: host.PidsLimit,
  };
  const expected = {
    memory: spec.memoryMiB * MiB,
    memorySwap: spec.memorySwapMiB * MiB,
    nanoCpus: Math.round(Number(spec.cpus) * 1e9),
    init: spec.init,
    restart: spec.restart,
    pids: spec.pids,
  };
  if (JSON.stringify(recorded) !== JSON.stringify(expected)) {
    throw new Error(`container ${id} runs with ${JSON.stringify(recorded)}, expected ${JSON.stringify(expected)}`);
  }
  return id;
}

/**
 * `docker create` with the spec's limits except the PID cap, which @pulumi/docker cannot set: the state a
 * container is in after Pulumi creates it and before the PidsLimit resource acts. Labelled for cleanup.
 */
export function createWithoutPidCap(spec: GuardSpec, args: string[], dockerHost = DOCKER_HOST): Promise<string> {
  return docker("-H", dockerHost, "create", ...testLabelArgs(), ...guardRunArgs(spec), ...args);
}

/** One line per scenario in the CI log: `LOAD-FIGURES {"scenario":…}`. */
export function reportFigures(scenario: string, figures: Record<string, unknown>): void {
  console.log(`LOAD-FIGURES ${JSON.stringify({ scenario, ...figures })}`);
}
