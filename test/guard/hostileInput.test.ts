/**
 * The session guard as a program, sent what Node's HTTP parser lets through but nothing can forward: request
 * targets that are not URLs (each one used to end the guard from inside http-proxy-3, cutting every stream
 * and emptying its session table), as a request and as an upgrade; and, from the upstream, a reason phrase
 * Node's server refuses to write. Each must fail alone: the guard answers (or closes), keeps running, and
 * forwards the next request.
 *
 * The upstream is a raw TCP server on 127.0.0.1 that records each request line and answers with the status
 * line the test sets, so that what reaches it and what it sends are exactly bytes.
 */
import * as net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sampleValue } from "../monitor/support/prom";
import { removeGuardBuild, startGuard, stopAllGuards, type GuardRun } from "./support/guardProcess";

/** The raw upstream: what it received, and the status line it answers with. */
const upstream = { port: 0, requestLines: [] as string[], statusLine: "HTTP/1.1 200 OK", server: undefined as net.Server | undefined };
let guard: GuardRun;

/**
 * Sends `request` (raw bytes, asking for `Connection: close`) to the guard and resolves with everything it
 * answered, once it closes. The client does not half-close: a proxy takes that for a client gone.
 */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no close within 10 s; got ${JSON.stringify(answer)}`)));
    socket.write(request);
  });
}

/** A plain request through the guard, as the proof that it still forwards. */
async function forwardsStill(): Promise<void> {
  const res = await fetch(`${guard.url}/metamcp/default/mcp`, { method: "POST", body: "{}", signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("upstream body");
  expect(guard.child.exitCode).toBeNull();
}

beforeAll(async () => {
  upstream.server = net.createServer((socket) => {
    let head = "";
    socket.setEncoding("latin1");
    socket.on("error", () => undefined);
    socket.on("data", (chunk: string) => {
      head += chunk;
      if (!head.includes("\r\n\r\n")) return;
      upstream.requestLines.push(head.slice(0, head.indexOf("\r\n")));
      socket.end(`${upstream.statusLine}\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nconnection: close\r\n\r\nupstream body`);
      head = "";
    });
  });
  await new Promise<void>((resolve) => upstream.server!.listen(0, "127.0.0.1", resolve));
  upstream.port = (upstream.server!.address() as net.AddressInfo).port;
  guard = await startGuard({ GUARD_UPSTREAM: `http://127.0.0.1:${upstream.port}` });
});

beforeEach(() => {
  upstream.requestLines = [];
  upstream.statusLine = "HTTP/1.1 200 OK";
});

afterAll(async () => {
  await stopAllGuards();
  removeGuardBuild();
  await new Promise((resolve) => upstream.server?.close(resolve));
});

describe("a request target that is not a URL", () => {
  it.each([
    ["an absolute form with a broken host", "http://["],
    ["an absolute form with a port out of range", "http://a:99999/metamcp/default/mcp"],
    ["a path that a URL parser reads as a host (backslash)", "/\\[x"],
    ["an authority form", "metamcp:12008"],
  ])("%s (%s) is answered 400, never forwarded, and the guard carries on", async (_case, target) => {
    const answer = await rawExchange(guard.port, `GET ${target} HTTP/1.1\r\nHost: guard\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(upstream.requestLines).toEqual([]);
    await forwardsStill();
  });

  it("as an upgrade, is closed without an answer, and the guard carries on", async () => {
    const answer = await rawExchange(
      guard.port,
      "GET http://[ HTTP/1.1\r\nHost: guard\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    expect(answer).toBe("");
    expect(upstream.requestLines).toEqual([]);
    await forwardsStill();
  });

  it("is counted by kind in /metrics", async () => {
    const before = await guard.metrics();
    await rawExchange(guard.port, "GET http://[ HTTP/1.1\r\nHost: guard\r\nConnection: close\r\n\r\n");
    const after = await guard.metrics();
    const refused = (exposition: typeof before) => sampleValue(exposition, "metamcp_guard_refused_targets_total", { kind: "request" });
    expect(refused(after) - refused(before)).toBe(1);
  });
});

it("a well-formed absolute form is forwarded in origin form: its path and query, not its host", async () => {
  const answer = await rawExchange(guard.port, "POST http://elsewhere.example/metamcp/default/mcp?x=1 HTTP/1.1\r\nHost: guard\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
  expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  expect(upstream.requestLines).toEqual(["POST /metamcp/default/mcp?x=1 HTTP/1.1"]);
});

it("an upstream reason phrase Node's server would refuse is dropped; the status and body pass, and the guard carries on", async () => {
  upstream.statusLine = "HTTP/1.1 200 O\x01K";
  const res = await fetch(`${guard.url}/metamcp/default/mcp`, { method: "POST", body: "{}", signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  expect(res.statusText).toBe("OK"); // Node's own phrase for 200
  expect(await res.text()).toBe("upstream body");
  upstream.statusLine = "HTTP/1.1 200 OK";
  await forwardsStill();
});
