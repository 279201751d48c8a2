/** Loopback helpers for tests that start servers (sshd, the monitor's /metrics, probes). */
import { createServer, type AddressInfo } from "node:net";

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
