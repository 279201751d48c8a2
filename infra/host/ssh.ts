/**
 * A thin shell around the `ssh` client, for the drift check: the key goes into a private
 * temp file (never an argument or the environment), the host key is always pinned, both
 * files are removed however the process ends (privateTempDir.ts), and failures become
 * messages that say what to fix.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SshConfig } from "../config/schema/host";
import { runCommand, type ShellResult } from "../exec";
import { privateTempDir } from "../privateTempDir";
import { hostKeyHint, pinnedHostKeyArgs, pinnedKnownHosts } from "../sshPin";

export type SshResult = ShellResult;

export class SshError extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
    this.name = "SshError";
  }
}

/**
 * `ssh` arguments for a target, with the key and the pinned known_hosts file already written; the
 * command follows. Pure. The host comes after `--`, so no value can be read as an option.
 */
export function sshArgs(target: SshConfig, keyFile: string, knownHostsFile: string, connectTimeoutSeconds = 10): string[] {
  return [
    "-i", keyFile,
    "-p", String(target.port),
    "-l", target.user,
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "IdentityAgent=none",
    "-o", `ConnectTimeout=${connectTimeoutSeconds}`,
    "-o", "LogLevel=ERROR",
    ...pinnedHostKeyArgs(knownHostsFile),
    "--",
    target.host,
  ];
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
    return `the SSH host key of ${target.host}:${target.port} does not match host.ssh.hostKey; check it with: ${hostKeyHint(target.host, target.port)}`;
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

/**
 * Runs `command` on the target; throws SshError when ssh could not connect or log in, and before
 * anything is written when the target has no pinned host key.
 */
export async function runOverSsh(target: SshConfig, privateKey: string, command: string, timeoutMs = 60_000): Promise<SshResult> {
  if (!target.hostKey) {
    throw new SshError(`host.ssh.hostKey is not set: every SSH connection checks the host's pinned key; get it with ${hostKeyHint(target.host, target.port)}`, "");
  }
  const dir = privateTempDir("metamcp-guard-ssh-");
  try {
    const keyFile = join(dir.path, "key");
    // ssh refuses keys other users can read; a key without a final newline is "invalid format".
    writeFileSync(keyFile, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    const knownHosts = join(dir.path, "known_hosts");
    writeFileSync(knownHosts, pinnedKnownHosts(target.hostKey), { mode: 0o600 });
    const result = await runCommand("ssh", [...sshArgs(target, keyFile, knownHosts), command], timeoutMs);
    const failure = describeSshFailure(target, result);
    if (failure) throw new SshError(failure, result.stderr);
    return result;
  } finally {
    dir.remove();
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop()?.trim() ?? "";
}
