/**
 * The Docker side of the real-engine test support, free of vitest so that scripts (the benchmark)
 * can use it too: whether an engine answers, the docker CLI runner, test labels and cleanup.
 * Test files import these through ./docker, which adds describeWithDocker.
 */
import { execFile, execFileSync } from "node:child_process";

/** Label key/value carried by every container a test creates. */
export const TEST_LABEL_KEY = "metamcp-guard.test";
export const TEST_LABEL = `${TEST_LABEL_KEY}=1`;
/**
 * Second label naming the test process that owns the container. Engineers share one engine and run suites
 * at the same time; without an owner, one suite's cleanup would kill another suite's containers mid-test.
 */
export const TEST_OWNER_LABEL_KEY = "metamcp-guard.test.owner-pid";

/** `docker run` arguments that label a container as ours (TEST_LABEL plus the owning pid). */
export function testLabelArgs(): string[] {
  return ["--label", TEST_LABEL, "--label", `${TEST_OWNER_LABEL_KEY}=${process.pid}`];
}

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Why no engine is usable, or undefined when `docker info` answers. Checked once per process (synchronously,
 * because vitest collects suites synchronously and has to know then whether to skip).
 */
export function dockerUnavailableReason(): string | undefined {
  if (availability === undefined) {
    try {
      execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 60_000, // a loaded engine can take a while to answer; a false "no engine" would skip or fail every suite
      });
      availability = { ok: true };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      const detail =
        e.code === "ENOENT" ? "docker CLI not on PATH" : (e.stderr?.toString().trim() || e.message).split("\n")[0];
      availability = { ok: false, reason: `no Docker engine (${detail}); run scripts/start-docker.sh` };
    }
  }
  return availability.ok ? undefined : availability.reason;
}

/** True when a Docker engine answers `docker info`. */
export function dockerAvailable(): boolean {
  return dockerUnavailableReason() === undefined;
}

/**
 * What describeWithDocker does with a suite (pure, so it is tested without toggling engines): run it when the
 * engine answers; without one, FAIL in CI (`CI` set), because a green CI run that silently skipped the
 * real-engine tests proves nothing; skip locally.
 */
export function dockerSuiteMode(unavailableReason: string | undefined, ci: string | undefined): "run" | "fail" | "skip" {
  if (unavailableReason === undefined) return "run";
  return ci ? "fail" : "skip";
}

/** Error thrown by docker(); carries the CLI's stderr and exit code. */
export class DockerCliError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | string | undefined,
    readonly stderr: string,
  ) {
    super(`docker ${args.join(" ")} failed (exit ${exitCode}): ${stderr.trim() || "(no stderr)"}`);
    this.name = "DockerCliError";
  }
}

/** Runs the docker CLI; resolves to trimmed stdout, rejects with DockerCliError (stderr included). */
export function docker(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("docker", args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as { signal?: string }).signal;
        reject(new DockerCliError(args, code, String(stderr)));
      } else {
        resolve(String(stdout).trim());
      }
    });
  });
}

/** `docker run -d` with our labels; resolves to the full container id. Pass image, command and flags as args. */
export async function runTestContainer(...args: string[]): Promise<string> {
  return docker("run", "-d", ...testLabelArgs(), ...args);
}

/**
 * Force-removes (with anonymous volumes) every container labelled TEST_LABEL, except containers whose owner
 * label names a different process that is still alive (another suite running right now). Safe to call in
 * afterAll/afterEach whatever happened; never throws when there is nothing to remove.
 */
export async function removeTestContainers(): Promise<void> {
  const listing = await docker(
    "ps", "-a", "--filter", `label=${TEST_LABEL}`,
    "--format", `{{.ID}} {{.Label "${TEST_OWNER_LABEL_KEY}"}}`,
  );
  const ids = listing
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, owner]) => !belongsToAnotherLiveProcess(owner))
    .map(([id]) => id);
  if (ids.length > 0) {
    // A container removed concurrently by someone else makes `rm` fail for that id only; that is fine.
    await docker("rm", "-f", "-v", ...ids).catch((err: DockerCliError) => {
      if (!/No such container|removal of container .* is already in progress/i.test(err.stderr)) throw err;
    });
  }
}

function belongsToAnotherLiveProcess(owner: string | undefined): boolean {
  const pid = Number(owner);
  if (!owner || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0); // signal 0: existence check only
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to another user: still alive.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
