/**
 * Dynamic provider for PidsLimit: keeps a container's `HostConfig.PidsLimit` at the declared value.
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
import {
  applyPidsLimit,
  getPidsLimit,
  isContainerNotFound,
  MAX_PIDS_LIMIT,
  parseDockerHost,
  setPidsLimit,
  UNLIMITED,
} from "./dockerApi";

/** What the program declares. */
export interface PidsLimitInputs {
  /** Same host string as the stack's docker.Provider: unix://, tcp:// or ssh://. */
  dockerHost: string;
  containerId: string;
  /** Maximum number of processes/threads in the container's pids cgroup (1..MAX_PIDS_LIMIT). */
  limit: number;
}

/** What the state records; `limit` is the value in force when last read (UNLIMITED = -1 if none). */
export type PidsLimitOutputs = PidsLimitInputs;

const api = { applyPidsLimit, getPidsLimit, isContainerNotFound, parseDockerHost, setPidsLimit, MAX_PIDS_LIMIT, UNLIMITED };

/**
 * The engine's placeholder for a value not known yet (e.g. the id of a container that a preview will
 * replace); @pulumi/pulumi/runtime/rpc `unknownValue`, copied so the SDK is not captured.
 */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Input problems, one per property (pure). Unknown values are not judged: they are checked on `up`. */
export function checkPidsLimitInputs(news: Partial<Record<keyof PidsLimitInputs, unknown>>): dynamic.CheckFailure[] {
  const failures: dynamic.CheckFailure[] = [];
  const { dockerHost, containerId, limit } = news;
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
  if (dockerHost !== UNKNOWN) {
    try {
      api.parseDockerHost(dockerHost as string);
    } catch (err) {
      failures.push({ property: "dockerHost", reason: (err as Error).message });
    }
  }
  return failures;
}

/**
 * Another container means another cgroup: replace, so the new resource applies the limit to the new
 * container. A new limit or a new way to reach the same engine is an in-place update. `olds` are the recorded
 * outputs, so a limit changed by hand and seen by refresh shows up here as a change to re-apply (pure).
 */
export function diffPidsLimit(olds: Partial<PidsLimitOutputs>, news: PidsLimitInputs): dynamic.DiffResult {
  const keys: (keyof PidsLimitInputs)[] = ["dockerHost", "containerId", "limit"];
  const changed = keys.filter((k) => olds[k] !== news[k]);
  return {
    changes: changed.length > 0,
    replaces: changed.includes("containerId") ? ["containerId"] : [],
    deleteBeforeReplace: false,
  };
}

export const pidsLimitProvider: dynamic.ResourceProvider<PidsLimitInputs, PidsLimitOutputs> = {
  async check(_olds: PidsLimitInputs, news: PidsLimitInputs): Promise<dynamic.CheckResult<PidsLimitInputs>> {
    return { inputs: news, failures: checkPidsLimitInputs(news) };
  },

  async diff(_id: string, olds: PidsLimitOutputs, news: PidsLimitInputs): Promise<dynamic.DiffResult> {
    return diffPidsLimit(olds, news);
  },

  async create(inputs: PidsLimitInputs): Promise<dynamic.CreateResult<PidsLimitOutputs>> {
    const { dockerHost, containerId, limit } = inputs;
    const inForce = await api.applyPidsLimit(dockerHost, containerId, limit);
    return { id: containerId, outs: { dockerHost, containerId, limit: inForce } };
  },

  /** The value in force, so refresh records drift; a vanished container makes the resource vanish. */
  async read(id: string, props?: PidsLimitOutputs): Promise<dynamic.ReadResult<PidsLimitOutputs>> {
    if (!props?.dockerHost) {
      throw new Error(`PidsLimit ${id}: cannot read without the recorded dockerHost (import is not supported)`);
    }
    const containerId = props.containerId || id;
    try {
      const limit = await api.getPidsLimit(props.dockerHost, containerId);
      return { id, props: { dockerHost: props.dockerHost, containerId, limit } };
    } catch (err) {
      if (api.isContainerNotFound(err)) return {}; // no id: the engine drops the resource from the state
      throw err;
    }
  },

  async update(_id: string, _olds: PidsLimitOutputs, news: PidsLimitInputs): Promise<dynamic.UpdateResult<PidsLimitOutputs>> {
    const { dockerHost, containerId, limit } = news;
    const inForce = await api.applyPidsLimit(dockerHost, containerId, limit);
    return { outs: { dockerHost, containerId, limit: inForce } };
  },

  /** Lifts the cap; a container that is already gone needs nothing. */
  async delete(id: string, props: PidsLimitOutputs): Promise<void> {
    try {
      await api.setPidsLimit(props.dockerHost, props.containerId || id, api.UNLIMITED);
    } catch (err) {
      if (!api.isContainerNotFound(err)) throw err;
    }
  },
};
