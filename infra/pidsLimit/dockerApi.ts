/**
 * The few Docker Engine API calls the PidsLimit resource needs, over the shared transport of
 * ../dockerEngine/transport.ts (unix, tcp, ssh; its header explains the serialization constraint every function
 * here obeys too).
 *
 * The transport is reached through the local object `engine`, never through the import bindings: a function that
 * referenced an import binding would make Pulumi's serializer capture the whole imported module object (under
 * vitest, vite's), where `engine` is a plain object of self-contained functions, serialized by value.
 *
 * The transport's names are re-exported so callers that know PidsLimit's module (verify, the tests) keep working.
 */
import {
  apiVersionAtLeast,
  containerError,
  dockerApiError,
  dockerRequest,
  engineMessage,
  parseJson,
  type DockerRequestOptions,
} from "../dockerEngine/transport";

export {
  apiVersionAtLeast,
  dockerApiError,
  dockerRequest,
  formatDockerHost,
  isContainerNotFound,
  isDockerApiError,
  parseDockerHost,
  sshCommandArgs,
  sshDialArgs,
  type DockerApiError,
  type DockerApiErrorCode,
  type DockerHost,
  type DockerRequestOptions,
  type DockerResponse,
} from "../dockerEngine/transport";

/** `POST /containers/{id}/update` accepts `PidsLimit` from this API version on (Docker 19.03). */
export const MIN_API_VERSION = "1.40";
/** The kernel's ceiling for pid_max on 64-bit (2^22); a larger cgroup limit cannot mean anything. */
export const MAX_PIDS_LIMIT = 4_194_304;
/** Docker's spelling of "no limit" when writing; reads come back as null, 0 or -1 (see normalizePidsLimit). */
export const UNLIMITED = -1;

const engine = { apiVersionAtLeast, containerError, dockerApiError, dockerRequest, engineMessage, parseJson };

/**
 * `HostConfig.PidsLimit` as read back, normalised (pure): the engine reports "no limit" as null (never set),
 * 0 (after an update to -1) or -1, which all mean the same; we say UNLIMITED (-1).
 */
export function normalizePidsLimit(raw: unknown): number {
  return typeof raw === "number" && raw > 0 ? raw : UNLIMITED;
}

/** GET /version; resolves to the engine's API version, rejects with "API_TOO_OLD" below MIN_API_VERSION. */
export async function checkApiVersion(dockerHost: string, options?: DockerRequestOptions): Promise<string> {
  const res = await engine.dockerRequest(dockerHost, "GET", "/version", undefined, options);
  if (res.status !== 200) {
    // An engine behind TLS answers plain HTTP with 400 "Client sent an HTTP request to an HTTPS server".
    const hint = /HTTPS server/i.test(res.body) ? " (the engine expects TLS, which PidsLimit does not speak; use ssh://)" : "";
    throw engine.dockerApiError("API_ERROR", `GET /version on ${dockerHost} failed: ${res.status} ${engine.engineMessage(res)}${hint}`, res.status);
  }
  const version = engine.parseJson(res, "GET /version")?.ApiVersion;
  if (typeof version !== "string" || !engine.apiVersionAtLeast(version, MIN_API_VERSION)) {
    throw engine.dockerApiError(
      "API_TOO_OLD",
      `the Docker engine at ${dockerHost} speaks API ${String(version)}; setting PidsLimit needs ${MIN_API_VERSION} or later (Docker 19.03+)`,
    );
  }
  return version;
}

/**
 * What the engine holds for a container's limits, as `docker inspect` reports them: the PID cap normalised
 * (UNLIMITED for none), memory and memory+swap in bytes (0 = none), and whether it runs.
 */
export interface LimitsInForce {
  pidsLimit: number;
  memory: number;
  memorySwap: number;
  running: boolean;
}

/** The limits in an inspect document (pure). A container in Docker's restart backoff counts as running. */
export function limitsOf(inspect: any): LimitsInForce {
  const host = inspect?.HostConfig ?? {};
  return {
    pidsLimit: normalizePidsLimit(host.PidsLimit),
    memory: typeof host.Memory === "number" ? host.Memory : 0,
    memorySwap: typeof host.MemorySwap === "number" ? host.MemorySwap : 0,
    running: inspect?.State?.Running === true,
  };
}

/** GET /containers/{id}/json, as LimitsInForce. Rejects with CONTAINER_NOT_FOUND when it does not exist. */
export async function inspectLimits(dockerHost: string, containerId: string, options?: DockerRequestOptions): Promise<LimitsInForce> {
  const res = await engine.dockerRequest(dockerHost, "GET", `/containers/${encodeURIComponent(containerId)}/json`, undefined, options);
  if (res.status !== 200) throw engine.containerError(res, containerId, "inspect", dockerHost);
  return limitsOf(engine.parseJson(res, "inspect"));
}

/**
 * The container's `HostConfig.PidsLimit`, normalised (UNLIMITED for none). Rejects with CONTAINER_NOT_FOUND
 * when it does not exist.
 */
export async function getPidsLimit(dockerHost: string, containerId: string, options?: DockerRequestOptions): Promise<number> {
  return (await inspectLimits(dockerHost, containerId, options)).pidsLimit;
}

/**
 * `POST /containers/{id}/update {"PidsLimit": limit}` (UNLIMITED removes the cap). The kernel applies it to the
 * running container at once. Rejects with CONTAINER_NOT_FOUND when the container does not exist.
 */
export async function setPidsLimit(
  dockerHost: string,
  containerId: string,
  limit: number,
  options?: DockerRequestOptions,
): Promise<void> {
  const res = await engine.dockerRequest(
    dockerHost, "POST", `/containers/${encodeURIComponent(containerId)}/update`, { PidsLimit: limit }, options,
  );
  if (res.status !== 200) throw engine.containerError(res, containerId, `setting PidsLimit=${limit}`, dockerHost);
}

/** The limits PidsLimit writes in one Engine API update, in the engine's units (bytes). */
export interface WantedLimits {
  pidsLimit: number;
  /** HostConfig.Memory, bytes. */
  memory: number;
  /** HostConfig.MemorySwap, bytes: memory plus swap (equal to memory: no swap; -1: unlimited swap). */
  memorySwap: number;
}

/**
 * `POST /containers/{id}/update` with the PID cap AND the memory limits, every time. On cgroup v2 with
 * the systemd cgroup driver, any update makes runc (1.1) hand the new values to systemd as properties of the
 * container's scope, and systemd then rewrites every cgroup file of the scope from the properties it
 * knows. It has never been told MemorySwapMax (runc exports it only when swap is not 0: "no swap" is the
 * one value it leaves out, opencontainers/cgroups#74), so memory.swap.max goes from 0 to max. runc writes
 * the cgroup files itself right after (libcontainer/cgroups/fs2), but only for the values in the update: sent
 * again here, memory and memory+swap make it write memory.swap.max=0 last, so swap stays off. A running
 * container gets the values at once; a created one at its start. (A `systemctl daemon-reload` does the same
 * rewrite with nobody writing 0 after it: only a parent slice with MemorySwapMax=0 holds then, see
 * docs/host-slices.md.)
 */
export async function updateLimits(
  dockerHost: string,
  containerId: string,
  wanted: WantedLimits,
  options?: DockerRequestOptions,
): Promise<void> {
  const body = { PidsLimit: wanted.pidsLimit, Memory: wanted.memory, MemorySwap: wanted.memorySwap };
  const res = await engine.dockerRequest(dockerHost, "POST", `/containers/${encodeURIComponent(containerId)}/update`, body, options);
  if (res.status !== 200) {
    throw engine.containerError(res, containerId, `setting PidsLimit=${wanted.pidsLimit} Memory=${wanted.memory} MemorySwap=${wanted.memorySwap}`, dockerHost);
  }
}

/** `POST /containers/{id}/start`; a container already running (304) is fine. */
export async function startContainer(dockerHost: string, containerId: string, options?: DockerRequestOptions): Promise<void> {
  const res = await engine.dockerRequest(dockerHost, "POST", `/containers/${encodeURIComponent(containerId)}/start`, undefined, options);
  if (res.status !== 204 && res.status !== 304) throw engine.containerError(res, containerId, "starting", dockerHost);
}

/**
 * Puts the wanted limits in force (one update, see updateLimits), reads them back, and only then, when
 * `start` is true and the container is not running, starts it: its first process runs under the cap.
 * Resolves to what the engine holds afterwards; rejects with LIMIT_NOT_APPLIED (and starts nothing) when
 * the engine reports another PID cap than the one set.
 */
export async function applyLimits(
  dockerHost: string,
  containerId: string,
  wanted: WantedLimits & { start: boolean },
  options?: DockerRequestOptions,
): Promise<LimitsInForce> {
  await checkApiVersion(dockerHost, options);
  await updateLimits(dockerHost, containerId, wanted, options);
  const inForce = await inspectLimits(dockerHost, containerId, options);
  if (inForce.pidsLimit !== normalizePidsLimit(wanted.pidsLimit)) {
    throw engine.dockerApiError(
      "LIMIT_NOT_APPLIED",
      `set PidsLimit=${wanted.pidsLimit} on container ${containerId} at ${dockerHost}, but the engine reports ${inForce.pidsLimit}; the container was not started`,
    );
  }
  if (!wanted.start || inForce.running) return inForce;
  await startContainer(dockerHost, containerId, options);
  return inspectLimits(dockerHost, containerId, options);
}

/**
 * Checks the API version, sets the limit and reads it back; resolves to the value in force, rejects with
 * LIMIT_NOT_APPLIED if the engine reports another value (e.g. a kernel without the pids cgroup).
 */
export async function applyPidsLimit(
  dockerHost: string,
  containerId: string,
  limit: number,
  options?: DockerRequestOptions,
): Promise<number> {
  await checkApiVersion(dockerHost, options);
  await setPidsLimit(dockerHost, containerId, limit, options);
  const inForce = await getPidsLimit(dockerHost, containerId, options);
  if (inForce !== normalizePidsLimit(limit)) {
    throw engine.dockerApiError(
      "LIMIT_NOT_APPLIED",
      `set PidsLimit=${limit} on container ${containerId} at ${dockerHost}, but the engine reports ${inForce}`,
    );
  }
  return inForce;
}
