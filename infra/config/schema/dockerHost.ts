/**
 * The Docker engine a stack deploys to (`metamcp-guard:dockerHost`). Every container create body carries
 * the stack's secrets (POSTGRES_PASSWORD, BETTER_AUTH_SECRET, DATABASE_URL), so the engine must be reached
 * over a channel that protects them: a local socket, SSH, or plain TCP to this machine's own loopback
 * (an SSH tunnel, say). Plain TCP to another host would send them in clear to an unauthenticated root API.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { parseDockerHost } from "../../pidsLimit/dockerApi";

const FORMS = "write unix:///var/run/docker.sock, ssh://user@host[:port] or tcp://127.0.0.1:<port>";

/** Why a Docker host string is refused, or undefined when it is fine (pure). */
export function dockerHostProblem(text: string): string | undefined {
  // Checked first, and the value never repeated: a password here would live in plain state and errors.
  if (/^[a-z]+:\/\/[^@/]*:[^@/]*@/.test(text)) {
    return "holds a password; remove it and use an SSH key (the sshPrivateKey secret, or ssh's own agent and config)";
  }
  let host;
  try {
    host = parseDockerHost(text);
  } catch {
    return `${JSON.stringify(text)} is not a Docker host; ${FORMS}`;
  }
  if (host.kind === "unix") return undefined;
  if (host.kind === "ssh") {
    return host.host.startsWith("-") ? `${JSON.stringify(text)} names a host starting with '-', which ssh reads as an option` : undefined;
  }
  if (!/:\d+$/.test(text.replace(/\/$/, ""))) return `${JSON.stringify(text)} has no port; write tcp://127.0.0.1:<port>`;
  if (!isLoopback(host.host)) {
    return (
      `${JSON.stringify(text)} is plain TCP to another host: the stack's secrets would cross the network in clear to an ` +
      "unauthenticated root API; use ssh://user@host (or tcp:// to 127.0.0.1 through an SSH tunnel)"
    );
  }
  return undefined;
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

export const dockerHost = z.string().refine((text) => dockerHostProblem(text) === undefined, {
  error: (issue) => dockerHostProblem(String(issue.input)) ?? "is not a Docker host",
});
