/**
 * The few Docker Engine API calls the PidsLimit resource needs, over the transports a Docker host string can
 * name: `unix:///path.sock`, `tcp://host[:port]` (plain HTTP, no TLS) and `ssh://[user@]host[:port]`.
 *
 * SERIALIZATION CONSTRAINT: the dynamic provider (provider.ts) captures these functions, and Pulumi serializes
 * them, and everything they reference, into the stack state (see @pulumi/pulumi/dynamic: serializeProvider ->
 * runtime.serializeFunction). So every function here must be self-contained:
 *  - Node builtins are loaded with `require(...)` INSIDE function bodies. `require` is a Node module global the
 *    serializer leaves alone. A top-level `import * as http from "node:http"` works under ts-node (the
 *    serializer recognises the builtin and emits `require("http")`), but under vitest the import is a vite
 *    module object, so the serializer walks into http's internals and fails ("Error serializing ...
 *    ClientRequest"); vitest is where the stack's mocks tests construct PidsLimit.
 *  - Only `import type` at the top (erased at compile time); module-level values are plain constants.
 *  - Errors are plain Errors with a `code` (see dockerApiError), recognised by that code, never `instanceof`:
 *    the provider in the state carries its own copy of everything it uses.
 *
 * Paths are unversioned (`/containers/...`, not `/v1.41/containers/...`): the engine then speaks its own
 * version, and newer engines (Docker 29) refuse old pinned versions. GET /version guards the minimum instead.
 */
import type { ClientRequest, IncomingMessage, RequestOptions as HttpRequestOptions } from "node:http";
import type { ChildProcess } from "node:child_process";

/** `POST /containers/{id}/update` accepts `PidsLimit` from this API version on (Docker 19.03). */
export const MIN_API_VERSION = "1.40";
/** The kernel's ceiling for pid_max on 64-bit (2^22); a larger cgroup limit cannot mean anything. */
export const MAX_PIDS_LIMIT = 4_194_304;
/** Docker's spelling of "no limit" when writing; reads come back as null, 0 or -1 (see normalizePidsLimit). */
export const UNLIMITED = -1;
const DEFAULT_TIMEOUT_MS = 30_000;

/** A parsed Docker host. */
export type DockerHost =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number }
  | { kind: "ssh"; host: string; user?: string; port?: number };

/** Error codes callers can branch on (`err.code`). */
export type DockerApiErrorCode =
  | "INVALID_HOST" // the host string cannot be parsed
  | "UNREACHABLE" // connection refused, socket missing, ssh failed, timeout
  | "CONTAINER_NOT_FOUND" // 404 for the container
  | "API_TOO_OLD" // engine older than MIN_API_VERSION
  | "LIMIT_NOT_APPLIED" // the engine accepted the update but reports another value
  | "API_ERROR"; // any other non-2xx answer

/** The errors this module throws: an Error with a `code` (and the HTTP `status` when there was an answer). */
export interface DockerApiError extends Error {
  name: "DockerApiError";
  code: DockerApiErrorCode;
  status?: number;
}

/**
 * Builds a DockerApiError. A factory, not a class: the serializer rewrites `class extends Error` into a
 * function calling `Error.call(this, message)`, which drops the message in the serialized provider.
 */
export function dockerApiError(code: DockerApiErrorCode, message: string, status?: number): DockerApiError {
  const err = new Error(message) as DockerApiError;
  err.name = "DockerApiError";
  err.code = code;
  if (status !== undefined) err.status = status;
  return err;
}

/** True for errors from this module, optionally with the given code (duck-typed: works across copies). */
export function isDockerApiError(err: unknown, code?: DockerApiErrorCode): err is DockerApiError {
  const e = err as Partial<DockerApiError> | null;
  return e?.name === "DockerApiError" && typeof e.code === "string" && (code === undefined || e.code === code);
}

/** True for the error getPidsLimit/setPidsLimit throw when the container does not exist (works across copies). */
export function isContainerNotFound(err: unknown): boolean {
  return isDockerApiError(err, "CONTAINER_NOT_FOUND");
}

/** Options for requests; `sshArgs` are extra `ssh` options (e.g. `-i key`), for tests and unusual setups. */
export interface DockerRequestOptions {
  timeoutMs?: number;
  sshArgs?: string[];
}

/**
 * Parses `unix:///var/run/docker.sock`, `tcp://host[:2375]`, `ssh://user@host[:22]` (pure). Throws
 * DockerApiError("INVALID_HOST") naming the bad value and the accepted forms.
 */
export function parseDockerHost(value: string): DockerHost {
  const fail = (why: string): never => {
    throw dockerApiError(
      "INVALID_HOST",
      `invalid Docker host ${JSON.stringify(value)}: ${why}; expected unix:///path/to/docker.sock, ` +
        "tcp://host[:port] or ssh://[user@]host[:port]",
    );
  };
  const trimmed = typeof value === "string" ? value.trim() : "";
  if (trimmed === "") return fail("empty");
  if (trimmed.startsWith("unix://")) {
    const socketPath = trimmed.slice("unix://".length);
    if (!socketPath.startsWith("/")) return fail("the socket path must be absolute");
    return { kind: "unix", socketPath };
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return fail("not a URL");
  }
  // URL keeps IPv6 brackets in hostname ("[::1]"); net/http want them without.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") return fail("no host name");
  if (url.pathname !== "" && url.pathname !== "/") return fail("a path is not supported");
  const port = url.port === "" ? undefined : Number(url.port);
  switch (url.protocol) {
    case "tcp:":
      // Docker's own default for a tcp:// host without a port (plain HTTP).
      return { kind: "tcp", host, port: port ?? 2375 };
    case "ssh:":
      if (url.password !== "") return fail("passwords are not supported, use an ssh key or agent");
      return {
        kind: "ssh",
        host,
        ...(url.username !== "" ? { user: decodeURIComponent(url.username) } : {}),
        ...(port !== undefined ? { port } : {}),
      };
    default:
      return fail(`unsupported scheme ${JSON.stringify(url.protocol)}`);
  }
}

/** The host as people write it, for error messages (pure). */
export function formatDockerHost(host: DockerHost): string {
  switch (host.kind) {
    case "unix":
      return `unix://${host.socketPath}`;
    case "tcp":
      return `tcp://${host.host.includes(":") ? `[${host.host}]` : host.host}:${host.port}`;
    case "ssh":
      return `ssh://${host.user ? `${host.user}@` : ""}${host.host}${host.port ? `:${host.port}` : ""}`;
  }
}

/** The `ssh` argv that runs `docker system dial-stdio` on the host, as the docker CLI does (pure). */
export function sshDialArgs(host: Extract<DockerHost, { kind: "ssh" }>, extra: string[] = []): string[] {
  return sshCommandArgs(host, extra, ["docker", "system", "dial-stdio"]);
}

/** The `ssh` argv that runs `command` on an ssh:// Docker host, the way the dial-stdio connection reaches it (pure). */
export function sshCommandArgs(host: Extract<DockerHost, { kind: "ssh" }>, extra: string[], command: string[]): string[] {
  return [
    // BatchMode: never prompt (there is no terminal under Pulumi); fail instead.
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=30",
    ...(host.port ? ["-p", String(host.port)] : []),
    ...extra,
    "--",
    host.user ? `${host.user}@${host.host}` : host.host,
    ...command,
  ];
}

/** True when Docker API version `version` (e.g. "1.41") is at least `min` (pure, numeric per component). */
export function apiVersionAtLeast(version: string, min: string): boolean {
  const a = version.split(".").map(Number);
  const b = min.split(".").map(Number);
  if (a.some(Number.isNaN) || b.some(Number.isNaN)) return false;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/**
 * `HostConfig.PidsLimit` as read back, normalised (pure): the engine reports "no limit" as null (never set),
 * 0 (after an update to -1) or -1, which all mean the same; we say UNLIMITED (-1).
 */
export function normalizePidsLimit(raw: unknown): number {
  return typeof raw === "number" && raw > 0 ? raw : UNLIMITED;
}

export interface DockerResponse {
  status: number;
  body: string;
}

/**
 * One HTTP request to the Engine API at `dockerHost` (a string or a parsed host). Resolves with any HTTP
 * status; rejects with DockerApiError("UNREACHABLE") naming the host when no answer comes.
 */
export function dockerRequest(
  dockerHost: string | DockerHost,
  method: string,
  path: string,
  body?: unknown,
  options: DockerRequestOptions = {},
): Promise<DockerResponse> {
  const http = require("node:http") as typeof import("node:http");
  const host = typeof dockerHost === "string" ? parseDockerHost(dockerHost) : dockerHost;
  const where = formatDockerHost(host);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const req: HttpRequestOptions = {
    method,
    path,
    headers: {
      // The engine ignores Host, but HTTP/1.1 requires one.
      Host: "docker",
      Connection: "close",
      ...(payload !== undefined
        ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }
        : {}),
    },
  };
  let ssh: ChildProcess | undefined;
  let sshStderr = "";
  switch (host.kind) {
    case "unix":
      req.socketPath = host.socketPath;
      req.agent = false; // one connection per request: nothing keeps the provider process alive afterwards
      break;
    case "tcp":
      req.host = host.host;
      req.port = host.port;
      req.agent = false;
      break;
    case "ssh":
      // No agent: with createConnection and no agent, http uses the stream we hand it as the socket.
      req.createConnection = () => {
        const { spawn } = require("node:child_process") as typeof import("node:child_process");
        const { Duplex } = require("node:stream") as typeof import("node:stream");
        ssh = spawn("ssh", sshDialArgs(host, options.sshArgs), { stdio: ["pipe", "pipe", "pipe"] });
        ssh.stderr!.on("data", (d: Buffer) => (sshStderr += d.toString()));
        // Spawn errors (no ssh binary) surface through the stream so the request fails with them.
        const stream = Duplex.from({ readable: ssh.stdout!, writable: ssh.stdin! });
        ssh.on("error", (err) => stream.destroy(err));
        return stream as unknown as import("node:net").Socket;
      };
      break;
  }

  return new Promise<DockerResponse>((resolve, reject) => {
    let settled = false;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (deadline) clearTimeout(deadline);
      // dial-stdio exits when its stdin closes; the kill is for an ssh stuck connecting.
      if (ssh && ssh.exitCode === null) ssh.kill();
      fn();
    };
    const unreachable = (why: string) =>
      dockerApiError("UNREACHABLE", `cannot reach the Docker engine at ${where} (${method} ${path}): ${why}`);

    const request: ClientRequest = http.request(req, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        finish(() => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })),
      );
      res.on("error", (err) => finish(() => reject(unreachable(err.message))));
    });
    // One deadline for the whole exchange, by our own timer: request.setTimeout would call setTimeout on the
    // socket, which the ssh stdio stream does not have.
    deadline = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    request.on("error", (err: NodeJS.ErrnoException) => {
      const why = err.code ? `${err.code}: ${err.message}` : err.message;
      if (ssh) {
        // ssh's own explanation (auth, host key, "docker: command not found") is what the user needs; it is
        // complete once ssh exits, which happens right after the stream breaks.
        const child = ssh;
        const report = () => finish(() => reject(unreachable(`${why}; ssh said: ${sshStderr.trim() || "(nothing)"}`)));
        if (child.exitCode !== null || child.signalCode !== null) report();
        else {
          child.once("close", report);
          setTimeout(report, 2_000).unref();
        }
      } else {
        finish(() => reject(unreachable(why)));
      }
    });
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}

/** Parses a JSON body, or throws an API error quoting it (pure). */
function parseJson(res: DockerResponse, what: string): any {
  try {
    return JSON.parse(res.body);
  } catch {
    throw dockerApiError("API_ERROR", `${what}: the engine answered ${res.status} with non-JSON: ${res.body.slice(0, 200)}`, res.status);
  }
}

/** The engine's `message` from an error body, else the raw body (pure). */
function engineMessage(res: DockerResponse): string {
  try {
    const msg = JSON.parse(res.body)?.message;
    if (typeof msg === "string") return msg;
  } catch {
    // not JSON: fall through
  }
  return res.body.trim() || `HTTP ${res.status}`;
}

/** Maps a non-2xx answer about a container to the error to throw (pure). */
function containerError(res: DockerResponse, containerId: string, what: string, where: string): DockerApiError {
  if (res.status === 404) {
    return dockerApiError("CONTAINER_NOT_FOUND", `container ${containerId} not found on ${where}`, 404);
  }
  return dockerApiError("API_ERROR", `${what} for container ${containerId} on ${where} failed: ${res.status} ${engineMessage(res)}`, res.status);
}

/** GET /version; resolves to the engine's API version, rejects with "API_TOO_OLD" below MIN_API_VERSION. */
export async function checkApiVersion(dockerHost: string, options?: DockerRequestOptions): Promise<string> {
  const res = await dockerRequest(dockerHost, "GET", "/version", undefined, options);
  if (res.status !== 200) {
    // An engine behind TLS answers plain HTTP with 400 "Client sent an HTTP request to an HTTPS server".
    const hint = /HTTPS server/i.test(res.body) ? " (the engine expects TLS, which PidsLimit does not speak; use ssh://)" : "";
    throw dockerApiError("API_ERROR", `GET /version on ${dockerHost} failed: ${res.status} ${engineMessage(res)}${hint}`, res.status);
  }
  const version = parseJson(res, "GET /version")?.ApiVersion;
  if (typeof version !== "string" || !apiVersionAtLeast(version, MIN_API_VERSION)) {
    throw dockerApiError(
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
  const res = await dockerRequest(dockerHost, "GET", `/containers/${encodeURIComponent(containerId)}/json`, undefined, options);
  if (res.status !== 200) throw containerError(res, containerId, "inspect", dockerHost);
  return limitsOf(parseJson(res, "inspect"));
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
  const res = await dockerRequest(
    dockerHost, "POST", `/containers/${encodeURIComponent(containerId)}/update`, { PidsLimit: limit }, options,
  );
  if (res.status !== 200) throw containerError(res, containerId, `setting PidsLimit=${limit}`, dockerHost);
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
  const res = await dockerRequest(dockerHost, "POST", `/containers/${encodeURIComponent(containerId)}/update`, body, options);
  if (res.status !== 200) {
    throw containerError(res, containerId, `setting PidsLimit=${wanted.pidsLimit} Memory=${wanted.memory} MemorySwap=${wanted.memorySwap}`, dockerHost);
  }
}

/** `POST /containers/{id}/start`; a container already running (304) is fine. */
export async function startContainer(dockerHost: string, containerId: string, options?: DockerRequestOptions): Promise<void> {
  const res = await dockerRequest(dockerHost, "POST", `/containers/${encodeURIComponent(containerId)}/start`, undefined, options);
  if (res.status !== 204 && res.status !== 304) throw containerError(res, containerId, "starting", dockerHost);
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
    throw dockerApiError(
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
    throw dockerApiError(
      "LIMIT_NOT_APPLIED",
      `set PidsLimit=${limit} on container ${containerId} at ${dockerHost}, but the engine reports ${inForce}`,
    );
  }
  return inForce;
}
