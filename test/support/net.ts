/** Loopback helpers for tests that start servers (sshd, the monitor's /metrics, probes). */
import { connect, createServer, type AddressInfo } from "node:net";
import { parseDockerHost } from "../../infra/dockerEngine/transport";

/** A TCP port nothing listens on right now on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The Docker engine at `dockerHost` (a unix:// socket: the engine here listens on nothing else) reached over
 * `tcp://` on 127.0.0.1 through a forwarder. Half-open connections stay open (a client that closes its sending
 * half, as an exec with stdin does, still gets the answer). Resolves with the tcp:// host and a close().
 * `onRequestBytes` sees every byte a client sends the engine (requests, bodies, an exec's stdin), for tests of
 * what travels to the engine.
 */
export async function engineOverTcp(
  dockerHost: string,
  onRequestBytes?: (chunk: Buffer) => void,
): Promise<{ host: string; close(): Promise<void> }> {
  const target = parseDockerHost(dockerHost);
  if (target.kind !== "unix") throw new Error(`the tcp forwarder needs a unix:// Docker host, got ${dockerHost}`);
  const socketPath = target.socketPath;
  const forwarder = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ path: socketPath, allowHalfOpen: true });
    if (onRequestBytes) client.on("data", onRequestBytes);
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => forwarder.listen(0, "127.0.0.1", resolve));
  return {
    host: `tcp://127.0.0.1:${(forwarder.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => forwarder.close(() => resolve())),
  };
}
