/**
 * Dynamic provider for PidsLimit: keeps a container's `HostConfig.PidsLimit` at the declared value (with its
 * memory limits sent again each time), and starts the container once the cap is in force.
 *
 * Pulumi serializes `pidsLimitProvider` (its methods and everything they reference) into the state, and the
 * dynamic-provider host later evaluates that text with no access to this repository. Hence:
 *  - `import type` only from @pulumi/pulumi: the types vanish, nothing of the SDK is captured.
 *  - The Docker API functions are copied into the local object `api` when this module loads, and the methods
 *    reference `api.x`. Referencing the imports directly makes the serializer capture the module object
 *    itself, which differs per loader: under ts-node the CommonJS `exports`, under vitest a vite SSR module
 *    object whose exports are getters (that one happens to serialize with vitest 4.1, but the state would
 *    then hold vite internals, and a dynamic `import()` fails outright: "error serializing property
 *    __provider"). `api` is a plain object of self-contained functions (see dockerApi.ts), serialized the same
 *    way under both; test/pidsLimit/serialization.test.ts checks that no vite names reach the state.
 * The decisions (check, diff) are pure functions, tested without an engine.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { hostKeyProblem } from "../sshPin";
import {
  applyLimits,
  inspectLimits,
  isContainerNotFound,
  MAX_PIDS_LIMIT,
  parseDockerHost,
  UNLIMITED,
  type LimitsInForce,
} from "./dockerApi";

/** What the program declares. */
export interface PidsLimitInputs {
  /** Same host string as the stack's docker.Provider: unix://, tcp:// or ssh://. */
  dockerHost: string;
  /**
   * For an ssh:// dockerHost, the host's public key (`type base64`, the stack's host.ssh.hostKey): ssh accepts
   * that key and no other. Public, so plain in the state, where refresh and delete find it.
   */
  hostKey?: string;
  containerId: string;
  /** Maximum number of processes/threads in the container's pids cgroup (1..MAX_PIDS_LIMIT). */
  limit: number;
  /**
   * HostConfig.Memory and MemorySwap in bytes, the container's own declared values: sent again with every
   * update of the cap, so that on cgroup v2 with systemd the update cannot turn swap back on
   * (see updateLimits in dockerApi.ts).
   */
  memory: number;
  memorySwap: number;
  /**
   * True: the container must run. Created stopped (docker.Container `start: false`), it is started here
   * once the cap is in force, and again by `pulumi up` when refresh finds it stopped. False leaves it alone.
   */
  running: boolean;
}

/** What the state records: the values in force when last read (`limit` UNLIMITED = -1 if none, `running` as found). */
export type PidsLimitOutputs = PidsLimitInputs;

const api = { applyLimits, hostKeyProblem, inspectLimits, isContainerNotFound, parseDockerHost, MAX_PIDS_LIMIT, UNLIMITED };

/**
 * The engine's placeholder for a value not known yet (e.g. the id of a container that a preview will
 * replace); @pulumi/pulumi/runtime/rpc `unknownValue`, copied so the SDK is not captured.
 */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Input problems, one per property (pure). Unknown values are not judged: they are checked on `up`. */
export function checkPidsLimitInputs(news: Partial<Record<keyof PidsLimitInputs, unknown>>): dynamic.CheckFailure[] {
  const failures: dynamic.CheckFailure[] = [];
  const { dockerHost, containerId, limit, hostKey } = news;
  if (limit !== UNKNOWN) {
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > api.MAX_PIDS_LIMIT) {
      failures.push({
        property: "limit",
        reason: `limit must be an integer from 1 to ${api.MAX_PIDS_LIMIT}, got ${JSON.stringify(limit)}`,
      });
    }
  }
  if (containerId !== UNKNOWN && (typeof containerId !== "string" || containerId.trim() === "")) {
    failures.push({ property: "containerId", reason: `containerId must be a non-empty string, got ${JSON.stringify(containerId)}` });
  }
  const { memory, memorySwap, running } = news;
  const wholeBytes = (value: unknown) => typeof value === "number" && Number.isInteger(value) && value > 0;
  if (memory !== UNKNOWN && !wholeBytes(memory)) {
    failures.push({ property: "memory", reason: `memory must be a whole number of bytes above 0, got ${JSON.stringify(memory)}` });
  }
  if (memorySwap !== UNKNOWN && memory !== UNKNOWN && wholeBytes(memory)) {
    if (memorySwap !== -1 && !(wholeBytes(memorySwap) && (memorySwap as number) >= (memory as number))) {
      failures.push({
        property: "memorySwap",
        reason: `memorySwap must be memory plus swap in bytes (at least memory, ${memory}) or -1 for unlimited swap, got ${JSON.stringify(memorySwap)}`,
      });
    }
  }
  if (running !== UNKNOWN && typeof running !== "boolean") {
    failures.push({ property: "running", reason: `running must be true or false, got ${JSON.stringify(running)}` });
  }
  if (dockerHost !== UNKNOWN) {
    try {
      const host = api.parseDockerHost(dockerHost as string);
      // Over SSH only with the host's key pinned: anything answering on the address would otherwise be
      // sent the container's limits and believed about them.
      if (host.kind === "ssh" && (hostKey === undefined || hostKey === null)) {
        failures.push({ property: "hostKey", reason: `hostKey is required for the ssh:// Docker host ${JSON.stringify(dockerHost)} (the stack's host.ssh.hostKey)` });
      }
    } catch (err) {
      failures.push({ property: "dockerHost", reason: (err as Error).message });
    }
  }
  if (hostKey !== undefined && hostKey !== null && hostKey !== UNKNOWN) {
    const problem = api.hostKeyProblem(hostKey);
    if (problem) failures.push({ property: "hostKey", reason: `hostKey ${problem}` });
  }
  return failures;
}

/**
 * Another container means another cgroup: replace, so the new resource applies the limits to the new
 * container. A new limit, new memory values or a new way to reach the same engine is an in-place update.
 * `olds` are the recorded outputs, so a value changed by hand and seen by refresh shows up here as a change
 * to re-apply, and so does a container found stopped when it must run (pure).
 */
export function diffPidsLimit(olds: Partial<PidsLimitOutputs>, news: PidsLimitInputs): dynamic.DiffResult {
  const keys: (keyof PidsLimitInputs)[] = ["dockerHost", "hostKey", "containerId", "limit", "memory", "memorySwap"];
  const changed = keys.filter((k) => (olds[k] ?? undefined) !== (news[k] ?? undefined));
  // Only "must run but does not" is a change: with running false nothing is ever stopped.
  if (news.running === true && olds.running !== true) changed.push("running");
  return {
    changes: changed.length > 0,
    replaces: changed.includes("containerId") ? ["containerId"] : [],
    deleteBeforeReplace: false,
  };
}

/** The state to record: the declared host (and its pinned key) and container, the values the engine holds (pure). */
function outputsOf(inputs: Pick<PidsLimitInputs, "dockerHost" | "hostKey" | "containerId">, inForce: LimitsInForce): PidsLimitOutputs {
  return {
    dockerHost: inputs.dockerHost,
    ...(inputs.hostKey ? { hostKey: inputs.hostKey } : {}),
    containerId: inputs.containerId,
    limit: inForce.pidsLimit,
    memory: inForce.memory,
    memorySwap: inForce.memorySwap,
    running: inForce.running,
  };
}

/**
 * Create and update alike: the cap with memory and memory+swap in one update (an update of the cap
 * alone turns swap back on under cgroup v2), then a start if the container must run and does not.
 */
async function applyInputs(inputs: PidsLimitInputs): Promise<PidsLimitOutputs> {
  const inForce = await api.applyLimits(inputs.dockerHost, inputs.containerId, {
    pidsLimit: inputs.limit,
    memory: inputs.memory,
    memorySwap: inputs.memorySwap,
    start: inputs.running,
  }, { hostKey: inputs.hostKey });
  return outputsOf(inputs, inForce);
}

export const pidsLimitProvider: dynamic.ResourceProvider<PidsLimitInputs, PidsLimitOutputs> = {
  async check(_olds: PidsLimitInputs, news: PidsLimitInputs): Promise<dynamic.CheckResult<PidsLimitInputs>> {
    return { inputs: news, failures: checkPidsLimitInputs(news) };
  },

  async diff(_id: string, olds: PidsLimitOutputs, news: PidsLimitInputs): Promise<dynamic.DiffResult> {
    return diffPidsLimit(olds, news);
  },

  /** Caps the container (it was created stopped), then starts it: its first process already runs under the cap. */
  async create(inputs: PidsLimitInputs): Promise<dynamic.CreateResult<PidsLimitOutputs>> {
    return { id: inputs.containerId, outs: await applyInputs(inputs) };
  },

  /** The values in force, so refresh records drift; a vanished container makes the resource vanish. */
  async read(id: string, props?: PidsLimitOutputs): Promise<dynamic.ReadResult<PidsLimitOutputs>> {
    if (!props?.dockerHost) {
      throw new Error(`PidsLimit ${id}: cannot read without the recorded dockerHost (import is not supported)`);
    }
    const containerId = props.containerId || id;
    try {
      // The pin recorded by the last create or update. A state from before pins were kept has none: ssh
      // then checks the host against the user's own known_hosts, until the next `up` records the pin.
      const inForce = await api.inspectLimits(props.dockerHost, containerId, { hostKey: props.hostKey });
      return { id, props: outputsOf({ dockerHost: props.dockerHost, hostKey: props.hostKey, containerId }, inForce) };
    } catch (err) {
      if (api.isContainerNotFound(err)) return {}; // no id: the engine drops the resource from the state
      throw err;
    }
  },

  /** Re-applies the limits, and starts the container if it must run and does not (after the cap, as on create). */
  async update(_id: string, _olds: PidsLimitOutputs, news: PidsLimitInputs): Promise<dynamic.UpdateResult<PidsLimitOutputs>> {
    return { outs: await applyInputs(news) };
  },

  /**
   * Leaves the container exactly as it is. A delete runs when the container is gone (nothing to do) and
   * also when it is not: a resource renamed, a targeted destroy, a replacement that failed halfway. Lifting
   * the cap then would leave a running container unlimited while nothing in the state says so.
   */
  async delete(): Promise<void> {
    // Deliberately no Engine API call.
  },
};
