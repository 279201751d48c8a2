/**
 * The one pinned SSH host key (`host.ssh.hostKey`) as every SSH path of the stack uses it:
 *  - the `ssh` binary run by our own code (PidsLimit and MetaMcpSettings over an ssh:// dockerHost, verify,
 *    verify-host): a private known_hosts file holding only the pinned key, StrictHostKeyChecking=yes, and no
 *    other known_hosts file; the file lives as long as that one ssh run (see privateTempDir.ts);
 *  - the docker.Provider's ssh (`sshOpts`): the same pin, but printed by a KnownHostsCommand instead of read
 *    from a file, because the provider's options are kept in the state and used by runs that never execute
 *    this program (`pulumi destroy`, `pulumi refresh`, deletes after the program has ended), where no file
 *    this program wrote could be counted on (OpenSSH 8.5 or later, checked at preview: hostChecks.ts);
 *  - @pulumi/command's connections take the key itself (`hostKey`), see host/connection.ts.
 * The known_hosts line names every host (`*`): the file serves one connection, to the stack's Docker host,
 * whatever name or ssh_config alias reaches it, and the key is what identifies the machine.
 *
 * SERIALIZATION CONSTRAINT (see dockerEngine/transport.ts): the transport's dynamic providers capture these
 * functions; builtins are required inside bodies, other modules' functions are reached through `temp`.
 */
import { privateTempDir } from "./privateTempDir";

const temp = { privateTempDir };

/** `type base64`, as host.ssh.hostKey is kept (config/schema/host.ts normalises what people paste). */
const HOST_KEY_FORM = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+=*$/;

/** How to get the key, for every message that asks for it. */
export function hostKeyHint(host = "<host>", port = 22): string {
  return `ssh-keyscan -t ed25519${port === 22 ? "" : ` -p ${port}`} ${host} (check its fingerprint with the host's own: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`;
}

/** Why a value cannot be used as a pinned key, or undefined when it can (pure). */
export function hostKeyProblem(hostKey: unknown): string | undefined {
  if (typeof hostKey !== "string" || !HOST_KEY_FORM.test(hostKey)) {
    return `${JSON.stringify(hostKey)} is not an SSH public host key as "type base64" (such as ssh-ed25519 AAAA…)`;
  }
  return undefined;
}

/** The known_hosts text that trusts the pinned key and nothing else (pure). */
export function pinnedKnownHosts(hostKey: string): string {
  const problem = hostKeyProblem(hostKey);
  if (problem) throw new Error(problem);
  return `* ${hostKey}\n`;
}

/** `ssh` options that accept only the keys in `knownHostsFile` and never add one (pure). */
export function pinnedHostKeyArgs(knownHostsFile: string): string[] {
  return [
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    // The address is not a second name to trust: the pinned key is the check.
    "-o", "CheckHostIP=no",
  ];
}

/**
 * Writes a known_hosts file holding only `hostKey` into a private temp folder; resolves the ssh options
 * that use it and the function that removes it (call it when that ssh has ended).
 */
export function writePinnedKnownHosts(hostKey: string): { args: string[]; remove(): void } {
  const fs = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const text = pinnedKnownHosts(hostKey);
  const dir = temp.privateTempDir("metamcp-guard-known-hosts-");
  try {
    const file = path.join(dir.path, "known_hosts");
    fs.writeFileSync(file, text, { mode: 0o600 });
    return { args: pinnedHostKeyArgs(file), remove: dir.remove };
  } catch (err) {
    dir.remove();
    throw err;
  }
}

/**
 * The docker.Provider's `sshOpts` for an ssh:// dockerHost (pure). ssh asks the KnownHostsCommand for the
 * name it looks up (%H) and gets that name with the pinned key; no known_hosts file is read, nothing is
 * written, and a host that shows another key is refused.
 */
export function dockerProviderSshOpts(hostKey: string): string[] {
  const problem = hostKeyProblem(hostKey);
  if (problem) throw new Error(problem);
  return [
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "CheckHostIP=no",
    "-o", `KnownHostsCommand=/bin/echo %H ${hostKey}`,
  ];
}
