/**
 * Running a command inside a container through the Engine API, as `docker exec -i` does:
 * `POST /containers/{id}/exec` creates the exec, `POST /exec/{id}/start` (an upgraded connection) feeds its stdin
 * and carries its output back, `GET /exec/{id}/json` tells its exit code. No shell is involved: the command is an
 * argv, and whatever the caller passes on stdin reaches the process as bytes.
 *
 * Same serialization constraint as ./transport.ts (read its header): the transport is reached through the local
 * object `transport`, builtins are required inside functions, errors are DockerApiErrors recognised by code.
 */
import {
  containerError,
  dockerApiError,
  dockerRequest,
  dockerUpgrade,
  engineMessage,
  formatDockerHost,
  parseDockerHost,
  parseJson,
  type DockerRequestOptions,
} from "./transport";

const transport = { containerError, dockerApiError, dockerRequest, dockerUpgrade, engineMessage, formatDockerHost, parseDockerHost, parseJson };

/** How long to wait for the engine to record the exit code once the output stream has ended. */
const EXIT_CODE_WAIT_MS = 5_000;
/** How long a command killed by a signal is watched for its container going down with it. */
const CONTAINER_END_WAIT_MS = 2_000;

export interface ExecOptions extends DockerRequestOptions {
  /** Bytes for the process's stdin (closed after them); none means an empty stdin. */
  stdin?: string | Buffer;
  /** `NAME=value` entries added to the container's environment for this process only. */
  env?: string[];
  /** User to run as (`name`, `uid` or `uid:gid`); the container's user when absent. */
  user?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Splits the engine's multiplexed stream (non-TTY attach/exec output) into stdout and stderr (pure). Each frame is
 * an 8-byte header, `[stream, 0, 0, 0, size(4, big-endian)]` with stream 1 = stdout and 2 = stderr, then `size`
 * bytes. A truncated last frame keeps the bytes that arrived. Bytes that do not start with a frame header are a
 * raw (TTY) stream and count as stdout.
 */
export function demuxDockerStream(bytes: Buffer): { stdout: Buffer; stderr: Buffer } {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const isHeader = (at: number) =>
    at + 8 <= bytes.length && bytes[at] <= 2 && bytes[at + 1] === 0 && bytes[at + 2] === 0 && bytes[at + 3] === 0;
  if (bytes.length > 0 && !isHeader(0)) return { stdout: Buffer.from(bytes), stderr: Buffer.alloc(0) };
  let at = 0;
  while (isHeader(at)) {
    const stream = bytes[at];
    const size = bytes.readUInt32BE(at + 4);
    const payload = bytes.subarray(at + 8, Math.min(at + 8 + size, bytes.length));
    if (stream === 2) stderr.push(payload);
    else if (stream === 1) stdout.push(payload);
    at += 8 + size;
  }
  return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
}

/**
 * Runs `cmd` in the running container `containerId` on `dockerHost`, writes `stdin` to it, and resolves with its
 * exit code and output once it has exited. Rejects with CONTAINER_NOT_FOUND (no such container, or it vanished
 * meanwhile), CONTAINER_NOT_RUNNING (stopped, paused or restarting, before or while the command ran), UNREACHABLE
 * (no engine), EXEC_FAILED (the
 * exit code never appeared), API_ERROR (anything else). A command that cannot be found is not a rejection: the
 * engine reports it as exit code 126 or 127 with its own message in the output, which the caller interprets.
 */
export async function execInContainer(
  dockerHost: string,
  containerId: string,
  cmd: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const where = transport.formatDockerHost(transport.parseDockerHost(dockerHost));
  const container = encodeURIComponent(containerId);
  const created = await transport.dockerRequest(
    dockerHost,
    "POST",
    `/containers/${container}/exec`,
    {
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      Cmd: cmd,
      ...(options.env ? { Env: options.env } : {}),
      ...(options.user ? { User: options.user } : {}),
    },
    options,
  );
  if (created.status === 409) {
    throw transport.dockerApiError(
      "CONTAINER_NOT_RUNNING",
      `container ${containerId} on ${where} is not running (${transport.engineMessage(created)})`,
      409,
    );
  }
  if (created.status !== 201) throw transport.containerError(created, containerId, `exec ${cmd[0]}`, where);
  const execId = String(transport.parseJson(created, "exec create")?.Id ?? "");
  if (execId === "") throw transport.dockerApiError("API_ERROR", `exec create in container ${containerId} on ${where} returned no Id`);

  const input = options.stdin === undefined ? Buffer.alloc(0) : Buffer.from(options.stdin);
  const started = await transport.dockerUpgrade(dockerHost, "POST", `/exec/${execId}/start`, { Detach: false, Tty: false }, input, options);
  if (!started.upgraded) {
    const res = { status: started.status, body: started.bytes.toString("utf8") };
    if (res.status === 409) {
      throw transport.dockerApiError("CONTAINER_NOT_RUNNING", `container ${containerId} on ${where} stopped before ${cmd[0]} could start`, 409);
    }
    throw transport.containerError(res, containerId, `exec start of ${cmd[0]}`, where);
  }
  const { stdout, stderr } = demuxDockerStream(started.bytes);

  const deadline = Date.now() + EXIT_CODE_WAIT_MS;
  for (;;) {
    const inspected = await transport.dockerRequest(dockerHost, "GET", `/exec/${execId}/json`, undefined, options);
    if (inspected.status === 404) {
      // The exec lives as long as its container: the container went away while the command ran.
      throw transport.dockerApiError("CONTAINER_NOT_FOUND", `container ${containerId} on ${where} went away while ${cmd[0]} ran`, 404);
    }
    if (inspected.status !== 200) throw transport.containerError(inspected, containerId, `exec inspect of ${cmd[0]}`, where);
    const state = transport.parseJson(inspected, "exec inspect");
    if (state?.Running === false && typeof state.ExitCode === "number") {
      if (state.ExitCode > 128) await throwIfContainerEnded(dockerHost, containerId, cmd[0], where, options);
      return { exitCode: state.ExitCode, stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8") };
    }
    if (Date.now() > deadline) {
      throw transport.dockerApiError(
        "EXEC_FAILED",
        `${cmd[0]} in container ${containerId} on ${where}: the output ended but the engine reports no exit code after ${EXIT_CODE_WAIT_MS} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A command killed by a signal (exit code 128 + n) may have died with its container: when the container is gone or
 * stops within CONTAINER_END_WAIT_MS, that is the outcome to report, not the signal. (The engine records the
 * command's exit before the container's own end, so a single look would see a container still "running".)
 */
async function throwIfContainerEnded(dockerHost: string, containerId: string, what: string, where: string, options: DockerRequestOptions): Promise<void> {
  const deadline = Date.now() + CONTAINER_END_WAIT_MS;
  for (;;) {
    const res = await transport.dockerRequest(dockerHost, "GET", `/containers/${encodeURIComponent(containerId)}/json`, undefined, options);
    if (res.status === 404) {
      throw transport.dockerApiError("CONTAINER_NOT_FOUND", `container ${containerId} on ${where} went away while ${what} ran`, 404);
    }
    if (res.status === 200 && transport.parseJson(res, "inspect")?.State?.Running === false) {
      throw transport.dockerApiError("CONTAINER_NOT_RUNNING", `container ${containerId} on ${where} stopped while ${what} ran`, 409);
    }
    if (Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
