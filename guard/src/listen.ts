/** Starts a server listening, and says so only once it is (or rejects with why not, e.g. EADDRINUSE). */
import type * as net from "node:net";

export function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
