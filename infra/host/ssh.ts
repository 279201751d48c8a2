/**
 * A thin shell around the `ssh` client, for the drift check: the key goes into a private
 * temp file (never an argument or the environment), the host key is pinned when the stack
 * has one, and failures become messages that say what to fix.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshConfig } from "../config/schema/host";
import { runCommand, type ShellResult } from "../exec";

export type SshResult = ShellResult;

export class SshError extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
    this.name = "SshError";
  }
}

/** `ssh` arguments for a target, with the key and known_hosts files already written. Pure. */
export function sshArgs(target: SshConfig, keyFile: string, knownHostsFile: string | undefined, connectTimeoutSeconds = 10): string[] {
  return [
    "-i", keyFile,
    "-p", String(target.port),
    "-l", target.user,
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "IdentityAgent=none",
    "-o", `ConnectTimeout=${connectTimeoutSeconds}`,
    "-o", "LogLevel=ERROR",
    ...(knownHostsFile
      ? ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHostsFile}`, "-o", "GlobalKnownHostsFile=/dev/null"]
      : ["-o", "StrictHostKeyChecking=accept-new"]),
    target.host,
    "--",
  ];
}

/** A known_hosts line pinning `hostKey` ("type base64") for host and port. Pure. */
export function knownHostsLine(target: SshConfig, hostKey: string): string {
  const name = target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
  return `${name} ${hostKey}\n`;
}

/**
 * What went wrong, in words, when ssh itself failed (exit 255), or undefined when the remote
 * command ran and failed on its own. Pure, so each case is tested without a network.
 */
export function describeSshFailure(target: SshConfig, result: SshResult): string | undefined {
  if (result.code !== 255) return undefined;
  const where = `${target.user}@${target.host}:${target.port}`;
  const err = result.stderr;
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key .* differs/i.test(err)) {
    return `the SSH host key of ${target.host}:${target.port} does not match host.ssh.hostKey; check it with: ssh-keyscan -p ${target.port} ${target.host}`;
  }
  if (/Permission denied|Too many authentication failures/i.test(err)) {
    return `cannot log in as ${where}: the server refused the sshPrivateKey (is its public key in ~${target.user}/.ssh/authorized_keys?)`;
  }
  if (/Could not resolve hostname/i.test(err)) return `cannot resolve ${target.host} (host.ssh.host)`;
  if (/Connection refused/i.test(err)) return `cannot reach ${target.host}:${target.port}: connection refused (is sshd listening on that port?)`;
  if (/timed out|No route to host|Network is unreachable/i.test(err)) {
    return `cannot reach ${target.host}:${target.port}: ${lastLine(err)}`;
  }
  if (/invalid format|load key|libcrypto/i.test(err)) return `the sshPrivateKey is not a usable private key: ${lastLine(err)}`;
  return `ssh to ${where} failed: ${lastLine(err) || "(no message)"}`;
}

/** Runs `command` on the target; throws SshError when ssh could not connect or log in. */
export async function runOverSsh(target: SshConfig, privateKey: string, command: string, timeoutMs = 60_000): Promise<SshResult> {
  const dir = await mkdtemp(join(tmpdir(), "metamcp-guard-ssh-"));
  try {
    const keyFile = join(dir, "key");
    // ssh refuses keys other users can read; a key without a final newline is "invalid format".
    await writeFile(keyFile, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    let knownHosts: string | undefined;
    if (target.hostKey) {
      knownHosts = join(dir, "known_hosts");
      await writeFile(knownHosts, knownHostsLine(target, target.hostKey), { mode: 0o600 });
    }
    const result = await runCommand("ssh", [...sshArgs(target, keyFile, knownHosts), command], timeoutMs);
    const failure = describeSshFailure(target, result);
    if (failure) throw new SshError(failure, result.stderr);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop()?.trim() ?? "";
}
