/**
 * `npm run verify`'s core: the stack file's wishes against what the Docker host has in force,
 * independent of Pulumi state. Decisions are in wanted.ts and compare.ts; this only wires I/O.
 */
import { formatDockerHost, parseDockerHost, type DockerHost, type DockerRequestOptions } from "../pidsLimit/dockerApi";
import { allInForce, compareStack, type CheckRow } from "./compare";
import { findStackContainers } from "./engine";
import { filesOverShell, localFiles, sshShell, type HostFiles } from "./hostFiles";
import { readStackConfig, StackFileError } from "./stackFile";
import type { StackConfig } from "../config";
import { hostKeyHint, hostKeyProblem } from "../sshPin";
import { wantedContainers } from "./wanted";

export { allInForce, compareContainer, compareStack, type CheckRow, type CheckStatus, type FoundContainer } from "./compare";
export { formatJson, formatTable } from "./report";
export { readStackConfig, StackFileError } from "./stackFile";
export { wantedContainers, type WantedContainer } from "./wanted";

export interface VerifyOptions {
  stack: string;
  /** The folder holding Pulumi.<stack>.yaml. */
  projectDir: string;
  /** Another stack file instead of <projectDir>/Pulumi.<stack>.yaml. */
  configFile?: string;
  /** Overrides the stack's dockerHost, e.g. ssh://admin@host from a laptop. */
  dockerHost?: string;
  /** The ssh:// host's public key (`type base64`) instead of the stack's host.ssh.hostKey. */
  hostKey?: string;
  request?: DockerRequestOptions;
}

export interface VerifyReport {
  stack: string;
  dockerHost: string;
  /** False when the engine's host cannot be reached for its kernel values (a tcp:// engine). */
  kernelReadable: boolean;
  ok: boolean;
  rows: CheckRow[];
}

/**
 * Throws StackFileError/ConfigError for a bad stack, DockerApiError (code INVALID_HOST or
 * UNREACHABLE, …) when the engine cannot be asked; differences are rows, never exceptions.
 */
export async function verifyStack(options: VerifyOptions): Promise<VerifyReport> {
  const config = readStackConfig(options.stack, options);
  const host = parseDockerHost(options.dockerHost ?? config.dockerHost);
  const request = { ...options.request, ...(host.kind === "ssh" ? { hostKey: pinFor(config, options) } : {}) };
  const wanted = wantedContainers(config);
  const kernel = kernelFiles(host, request);
  const found = await findStackContainers(host, config.stack, wanted, { ...request, kernel });
  const rows = compareStack(wanted, found);
  return { stack: config.stack, dockerHost: formatDockerHost(host), kernelReadable: "read" in kernel, ok: allInForce(rows), rows };
}

/**
 * The key an ssh:// engine must show: --host-key, else the stack's own pin. The same pin as `pulumi up`
 * uses, so verify never trusts a host the stack would not.
 */
export function pinFor(config: StackConfig, options: Pick<VerifyOptions, "hostKey">): string {
  const problem = options.hostKey !== undefined ? hostKeyProblem(options.hostKey) : undefined;
  if (problem) throw new StackFileError(`--host-key ${problem}`);
  const key = options.hostKey ?? config.host.ssh?.hostKey;
  if (!key) {
    throw new StackFileError(
      `stack "${config.stack}" pins no SSH host key (host.ssh.hostKey), and verify checks an ssh:// engine against the pinned key only; ` +
        `set host.ssh.hostKey, or pass --host-key "<type> <base64>" (get it with ${hostKeyHint()})`,
    );
  }
  return key;
}

/**
 * Where the engine's kernel files are read: a local socket means this machine is the engine's (its /proc
 * and /sys); ssh:// reaches the engine's host by the same ssh; tcp:// gives no way onto that host.
 */
export function kernelFiles(host: DockerHost, request: DockerRequestOptions = {}): HostFiles | { unreadable: string } {
  switch (host.kind) {
    case "unix":
      return localFiles();
    case "ssh":
      return filesOverShell(sshShell(host, request), formatDockerHost(host));
    case "tcp":
      return { unreadable: "not readable: tcp:// engine (use ssh:// or run verify on the host)" };
  }
}
