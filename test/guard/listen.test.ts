/** listen (guard/src/listen.ts): a server that has started listening hands later errors to onError and keeps serving. */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { expect, it } from "vitest";
import { listen } from "../../guard/src/listen";

it("an error after listening goes to onError (unheard, it would end the process) and the server still answers", async () => {
  const server = http.createServer((_req, res) => res.end("still here"));
  const heard: Error[] = [];
  await listen(server, "127.0.0.1", 0, (error) => heard.push(error));
  try {
    const acceptFailed = Object.assign(new Error("accept EMFILE"), { code: "EMFILE" });
    expect(() => server.emit("error", acceptFailed)).not.toThrow();
    expect(heard).toEqual([acceptFailed]);
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(await res.text()).toBe("still here");
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

it("a port in use rejects, naming the error, and leaves no listener behind", async () => {
  const holder = http.createServer();
  await listen(holder, "127.0.0.1", 0, () => undefined);
  const port = (holder.address() as AddressInfo).port;
  const second = http.createServer();
  try {
    await expect(listen(second, "127.0.0.1", port, () => undefined)).rejects.toMatchObject({ code: "EADDRINUSE" });
    expect(second.listenerCount("error")).toBe(0);
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
});
