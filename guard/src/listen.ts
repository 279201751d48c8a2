/** Starts a server listening, and says so only once it is (or rejects with why not, e.g. EADDRINUSE). */
import type * as net from "node:net";

/**
 * Once listening, a server can still emit "error" (accept failing for want of descriptors or memory);
 * with no listener that would end the process, so such errors go to `onError` and the server carries on.
 */
export function listen(server: net.Server, host: string, port: number, onError: (error: Error) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      server.on("error", onError);
      resolve();
    });
  });
}
