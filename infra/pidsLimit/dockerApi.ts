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
 * The container's `HostConfig.PidsLimit`, normalised (UNLIMITED for none). Rejects with CONTAINER_NOT_FOUND
 * when it does not exist.
 */
export async function getPidsLimit(dockerHost: string, containerId: string, options?: DockerRequestOptions): Promise<number> {
  const res = await engine.dockerRequest(dockerHost, "GET", `/containers/${encodeURIComponent(containerId)}/json`, undefined, options);
  if (res.status !== 200) throw engine.containerError(res, containerId, "inspect", dockerHost);
  return normalizePidsLimit(engine.parseJson(res, "inspect")?.HostConfig?.PidsLimit);
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
