/**
 * The Docker Engine API transport our dynamic providers (PidsLimit, MetaMcpSettings) and verify share: one HTTP
 * exchange with the engine named by a Docker host string, `unix:///path.sock`, `tcp://host[:port]` (plain HTTP,
 * no TLS) or `ssh://[user@]host[:port]` (through `ssh … docker system dial-stdio`, as the docker CLI does).
 * Two kinds of exchange: a plain request with a body (`dockerRequest`), and an upgraded one that hands over
 * raw bytes both ways (`dockerUpgrade`, what `POST /exec/{id}/start` needs to feed a process's stdin).
 *
 * SERIALIZATION CONSTRAINT: dynamic providers capture these functions, and Pulumi serializes them, and everything
 * they reference, into the stack state (see @pulumi/pulumi/dynamic: serializeProvider ->
 * runtime.serializeFunction). So every function here must be self-contained:
 *  - Node builtins are loaded with `require(...)` INSIDE function bodies. `require` is a Node module global the
 *    serializer leaves alone. A top-level `import * as http from "node:http"` works under ts-node (the
 *    serializer recognises the builtin and emits `require("http")`), but under vitest the import is a vite
 *    module object, so the serializer walks into http's internals and fails ("Error serializing ...
 *    ClientRequest"); vitest is where the stack's mocks tests construct the resources.
 *  - Only `import type` at the top (erased at compile time); module-level values are plain constants. Functions
 *    here call each other directly (same module: the serializer copies them by value).
 *  - Errors are plain Errors with a `code` (see dockerApiError), recognised by that code, never `instanceof`:
 *    the provider in the state carries its own copy of everything it uses.
 * Modules that use these functions from another file call them through a local plain object
 * (`const engine = { dockerRequest, … }`), never through the import binding: an import binding inside a function
 * makes the serializer capture the whole module object, which under vitest is vite's.
 *
 * Paths are unversioned (`/containers/...`, not `/v1.41/containers/...`): the engine then speaks its own
 * version, and newer engines (Docker 29) refuse old pinned versions.
 */
import type { ClientRequest, IncomingMessage, RequestOptions as HttpRequestOptions } from "node:http";
import type { ChildProcess } from "node:child_process";
import type { Duplex } from "node:stream";
import { writePinnedKnownHosts } from "../sshPin";

/** The one function of another module the exchange needs, reached by value (see the header). */
const pin = { writePinnedKnownHosts };

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
  | "CONTAINER_NOT_RUNNING" // 409 for an exec in a stopped or restarting container
  | "API_TOO_OLD" // engine older than a caller's minimum API version
  | "LIMIT_NOT_APPLIED" // PidsLimit: the engine accepted the update but reports another value
  | "EXEC_FAILED" // an exec could not start its command, or its outcome could not be read
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

/** True for the error container calls throw when the container does not exist (works across copies). */
export function isContainerNotFound(err: unknown): boolean {
  return isDockerApiError(err, "CONTAINER_NOT_FOUND");
}

/** Options for requests; `sshArgs` are extra `ssh` options (e.g. `-i key`), for tests and unusual setups. */
export interface DockerRequestOptions {
  timeoutMs?: number;
  sshArgs?: string[];
  /**
   * For ssh:// hosts: the host's public key (`type base64`, host.ssh.hostKey). ssh then accepts this key and
   * no other, from a known_hosts file that exists only while the exchange runs. Without it ssh checks the
   * host against the user's own known_hosts (and, in BatchMode, refuses a host it does not know).
   */
  hostKey?: string;
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

export interface DockerResponse {
  status: number;
  body: string;
}

/** What an exchange gives back: the HTTP status and every byte that followed (after an upgrade: the raw stream). */
interface RawExchange {
  status: number;
  upgraded: boolean;
  bytes: Buffer;
}

/**
 * One exchange with the engine. Without `upgradeInput` it is a plain request. With it, the request asks the engine
 * to upgrade the connection (`Connection: Upgrade`, `Upgrade: tcp`, as the docker CLI's attach/exec do); on `101`
 * the input is written to the raw connection, the sending half is closed (the engine then closes the process's
 * stdin), and every byte the engine sends until it closes is collected. An answer other than 101 (an error) is
 * collected like a plain body. Rejects with DockerApiError("UNREACHABLE") naming the host when no answer comes.
 */
function exchange(
  dockerHost: string | DockerHost,
  method: string,
  path: string,
  body: unknown,
  options: DockerRequestOptions,
  upgradeInput?: Buffer,
): Promise<RawExchange> {
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
      ...(upgradeInput !== undefined ? { Connection: "Upgrade", Upgrade: "tcp" } : { Connection: "close" }),
      ...(payload !== undefined
        ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }
        : {}),
    },
  };
  let ssh: ChildProcess | undefined;
  let sshStderr = "";
  let knownHosts: { args: string[]; remove(): void } | undefined;
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
        knownHosts = options.hostKey ? pin.writePinnedKnownHosts(options.hostKey) : undefined;
        ssh = spawn("ssh", sshDialArgs(host, [...(knownHosts?.args ?? []), ...(options.sshArgs ?? [])]), { stdio: ["pipe", "pipe", "pipe"] });
        // And once ssh has ended, should it end before the exchange does.
        ssh.on("close", () => knownHosts?.remove());
        ssh.stderr!.on("data", (d: Buffer) => (sshStderr += d.toString()));
        // Spawn errors (no ssh binary) surface through the stream so the request fails with them.
        const stream = Duplex.from({ readable: ssh.stdout!, writable: ssh.stdin! });
        ssh.on("error", (err) => stream.destroy(err));
        return stream as unknown as import("node:net").Socket;
      };
      break;
  }

  return new Promise<RawExchange>((resolve, reject) => {
    let settled = false;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    let raw: Duplex | undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (deadline) clearTimeout(deadline);
      raw?.destroy();
      // dial-stdio exits when its stdin closes; the kill is for an ssh stuck connecting.
      if (ssh && ssh.exitCode === null) ssh.kill();
      // Whatever came back came through ssh, which had checked the host's key by then; an ssh still
      // connecting was just killed. So the pinned known_hosts can go now, before the caller goes on.
      knownHosts?.remove();
      fn();
    };
    const unreachable = (why: string) =>
      dockerApiError("UNREACHABLE", `cannot reach the Docker engine at ${where} (${method} ${path}): ${why}`);

    const request: ClientRequest = http.request(req, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => finish(() => resolve({ status: res.statusCode ?? 0, upgraded: false, bytes: Buffer.concat(chunks) })));
      res.on("error", (err) => finish(() => reject(unreachable(err.message))));
    });
    request.on("upgrade", (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      raw = socket;
      const chunks: Buffer[] = [head];
      socket.on("data", (c: Buffer) => chunks.push(c));
      // The engine closes the connection when the process has exited and its output is flushed.
      const done = () => finish(() => resolve({ status: res.statusCode ?? 101, upgraded: true, bytes: Buffer.concat(chunks) }));
      socket.on("end", done);
      socket.on("close", done);
      socket.on("error", (err: Error) => finish(() => reject(unreachable(err.message))));
      socket.end(upgradeInput);
    });
    // One deadline for the whole exchange, by our own timer: request.setTimeout would call setTimeout on the
    // socket, which the ssh stdio stream does not have.
    deadline = setTimeout(() => {
      const why = new Error(`no answer within ${timeoutMs} ms`);
      if (raw) finish(() => reject(unreachable(why.message)));
      else request.destroy(why);
    }, timeoutMs);
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

/**
 * One HTTP request to the Engine API at `dockerHost` (a string or a parsed host). Resolves with any HTTP
 * status; rejects with DockerApiError("UNREACHABLE") naming the host when no answer comes.
 */
export async function dockerRequest(
  dockerHost: string | DockerHost,
  method: string,
  path: string,
  body?: unknown,
  options: DockerRequestOptions = {},
): Promise<DockerResponse> {
  const res = await exchange(dockerHost, method, path, body, options);
  return { status: res.status, body: res.bytes.toString("utf8") };
}

/** What an upgraded exchange gave: `upgraded` false means the engine answered an error instead (`bytes` is its body). */
export interface UpgradedResponse {
  status: number;
  upgraded: boolean;
  bytes: Buffer;
}

/**
 * A request the engine answers by upgrading the connection to a raw stream (`POST /exec/{id}/start`,
 * `POST /containers/{id}/attach`): writes `input` into it, closes the sending half, and resolves with every byte
 * the engine sent back until it closed the connection.
 */
export function dockerUpgrade(
  dockerHost: string | DockerHost,
  method: string,
  path: string,
  body: unknown,
  input: Buffer,
  options: DockerRequestOptions = {},
): Promise<UpgradedResponse> {
  return exchange(dockerHost, method, path, body, options, input);
}

/** Parses a JSON body, or throws an API error quoting it (pure). */
export function parseJson(res: DockerResponse, what: string): any {
  try {
    return JSON.parse(res.body);
  } catch {
    throw dockerApiError("API_ERROR", `${what}: the engine answered ${res.status} with non-JSON: ${res.body.slice(0, 200)}`, res.status);
  }
}

/** The engine's `message` from an error body, else the raw body (pure). */
export function engineMessage(res: DockerResponse): string {
  try {
    const msg = JSON.parse(res.body)?.message;
    if (typeof msg === "string") return msg;
  } catch {
    // not JSON: fall through
  }
  return res.body.trim() || `HTTP ${res.status}`;
}

/** Maps a non-2xx answer about a container to the error to throw (pure). */
export function containerError(res: DockerResponse, containerId: string, what: string, where: string): DockerApiError {
  if (res.status === 404) {
    return dockerApiError("CONTAINER_NOT_FOUND", `container ${containerId} not found on ${where}`, 404);
  }
  return dockerApiError("API_ERROR", `${what} for container ${containerId} on ${where} failed: ${res.status} ${engineMessage(res)}`, res.status);
}
