/**
 * The session guard as a program, in front of an upstream that behaves like MetaMCP 2.4.22
 * (test/support/mcpUpstream.ts: real MCP SDK Streamable HTTP server, real stdio servers from npm in
 * their own process groups), driven by real MCP SDK clients (1.16.0, the version MetaMCP ships).
 *
 * Proves: streams pass untouched (progress notifications as they happen, a GET stream held past the idle
 * timeout), abandoned sessions are ended by DELETE with the credentials the client last used (header,
 * query parameter, Bearer, cookie) and their server processes are gone, 404s make the guard forget and the
 * client start over, MetaMCP restarting (502 meanwhile, then 404), the tracking bound, adoption after a
 * guard restart, the lifetime cap, SIGTERM draining, and that no secret reaches the log or /metrics.
 */
import { spawn } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import * as path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { McpUpstream, SESSION_COOKIE, type RecordedRequest } from "../support/mcpUpstream";
import { waitUntil } from "../support/wait";
import { sampleValue } from "../monitor/support/prom";
import { removeGuardBuild, startGuard, stopAllGuards, type GuardRun } from "./support/guardProcess";

/** Distinct, greppable secrets: none of them may ever appear in the guard's output or metrics. */
const KEYS = {
  header: "sk_header_9c1f3e7a2b",
  header2: "sk_header2_4d8e6a1c0f",
  query: "sk_query_7b2e9d4c1a",
  bearer: "sk_bearer_3f6a8c2e9d",
  cookie: "sk_cookie_1e4b7d0a8c",
};
const ENDPOINT = "/metamcp/default/mcp";
/** Short timeouts, and the request log on, so every path a test sends is in the output the secrets test reads. */
const FAST = { GUARD_IDLE_TIMEOUT: "1s", GUARD_SWEEP_INTERVAL: "200ms", GUARD_DELETE_TIMEOUT: "3s", GUARD_LOG_REQUESTS: "true" };
const GUARD_AGENT = "metamcp-guard";

type Auth = { header: string } | { query: string; param: "api_key" | "apikey" } | { bearer: string } | { cookie: string };

interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport;
  sessionId: string;
  logs: string[];
}

let upstream: McpUpstream;
/** Every guard this file started: their output is checked for secrets at the end. */
const guards: GuardRun[] = [];
const clients: Client[] = [];

async function guardFor(env: Record<string, string> = {}): Promise<GuardRun> {
  const guard = await startGuard({ GUARD_UPSTREAM: upstream.url, ...FAST, ...env });
  guards.push(guard);
  return guard;
}

function clientUrl(base: string, auth: Auth, endpoint = ENDPOINT): { url: URL; headers: Record<string, string> } {
  const url = new URL(`${base}${endpoint}`);
  const headers: Record<string, string> = {};
  if ("header" in auth) headers["x-api-key"] = auth.header;
  if ("bearer" in auth) headers.authorization = `Bearer ${auth.bearer}`;
  if ("cookie" in auth) headers.cookie = `theme=dark; ${SESSION_COOKIE}=${auth.cookie}`;
  if ("query" in auth) url.searchParams.set(auth.param, auth.query);
  return { url, headers };
}

/** A real SDK client through `base`: initialize, then (as the SDK does) its standalone GET stream. */
async function connect(base: string, auth: Auth = { header: KEYS.header }, endpoint = ENDPOINT, sessionId?: string): Promise<Connected> {
  const { url, headers } = clientUrl(base, auth, endpoint);
  const client = new Client({ name: "guard-test", version: "1.0.0" });
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
  client.onerror = () => undefined; // reconnect attempts of the GET stream while MetaMCP is down
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers }, sessionId });
  await client.connect(transport);
  clients.push(client);
  return { client, transport, sessionId: transport.sessionId!, logs };
}

/** The client goes away without DELETE (the SDK's close() only aborts its requests and streams). */
async function abandon(connected: Connected): Promise<void> {
  await connected.client.close();
}

const deletesFromGuard = (sessionId: string): RecordedRequest[] =>
  upstream.seen("DELETE", sessionId).filter((r) => r.headers.userAgent === GUARD_AGENT);

async function deleteFromGuard(sessionId: string, timeoutMs = 10_000): Promise<RecordedRequest> {
  await waitUntil(() => deletesFromGuard(sessionId).length > 0, timeoutMs, `the guard's DELETE for session ${sessionId}`);
  return deletesFromGuard(sessionId)[0];
}

async function metric(guard: GuardRun, name: string, labels?: Record<string, string>): Promise<number> {
  return sampleValue(await guard.metrics(), `metamcp_guard_${name}`, labels);
}

/** A JSON-RPC ping over plain fetch, for requests a test shapes by hand. */
function ping(base: string, sessionId: string | undefined, headers: Record<string, string>, target = ENDPOINT): Promise<Response> {
  return fetch(`${base}${target}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(sessionId ? { "mcp-session-id": sessionId } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
}

beforeAll(async () => {
  upstream = await McpUpstream.start({ apiKeys: Object.values(KEYS) });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
});

afterAll(async () => {
  await stopAllGuards();
  await upstream?.close();
  removeGuardBuild();
});

describe("streams pass through untouched", () => {
  it("progress notifications arrive as the server sends them, before the result", async () => {
    const guard = await guardFor();
    const { client } = await connect(guard.url);
    const started = Date.now();
    const progressAt: number[] = [];
    const result = await client.callTool(
      { name: "everything__trigger-long-running-operation", arguments: { duration: 4, steps: 4 } },
      undefined,
      { onprogress: () => void progressAt.push(Date.now() - started) },
    );
    const resultAt = Date.now() - started;
    expect(JSON.stringify(result.content)).toContain("Long running operation completed");
    // One step a second. The fourth progress is written together with the result, and SDK 1.16 drops a
    // progress it reads in the same chunk as the result (modelcontextprotocol/typescript-sdk#2580), at any
    // hop, so only the three before it are sure to arrive. A buffering proxy would deliver them all at once.
    const timings = `progress at ${progressAt.join(", ")} ms, result at ${resultAt} ms`;
    expect(progressAt.length, timings).toBeGreaterThanOrEqual(3);
    expect(progressAt.length, timings).toBeLessThanOrEqual(4);
    expect(progressAt[2] - progressAt[0], timings).toBeGreaterThan(1_500);
    expect(resultAt - progressAt[2], timings).toBeGreaterThan(500);
  });

  it("a GET stream held three idle timeouts long keeps its session, and carries the server's messages", async () => {
    const guard = await guardFor();
    const connected = await connect(guard.url);
    await waitUntil(async () => (await metric(guard, "open_streams")) === 1, 5_000, "the GET stream open through the guard");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await upstream.notify(connected.sessionId, "hello over the GET stream");
    await waitUntil(() => connected.logs.includes("hello over the GET stream"), 5_000, "the notification at the client");
    expect(deletesFromGuard(connected.sessionId)).toEqual([]);
    expect(await metric(guard, "sessions")).toBe(1);
    expect(await metric(guard, "open_streams")).toBe(1);
    const tools = await connected.client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain("filesystem__read_text_file");
  });

  it("forwards method, path, query and Host as sent, and sets X-Forwarded-* itself", async () => {
    const guard = await guardFor();
    const target = `/metamcp/default/api/openapi.json?api_key=${KEYS.query}&odd=%2F%20%C3%A9&flag`;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${guard.url}${target}`, {
        method: "GET",
        headers: { host: "mcp.example.org", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https", "x-forwarded-for": "6.6.6.6" },
      });
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(404); // the upstream's own answer for a path it does not serve, passed on
    const seen = upstream.requests.at(-1)!;
    expect(seen).toMatchObject({ method: "GET", path: "/metamcp/default/api/openapi.json", query: `api_key=${KEYS.query}&odd=%2F%20%C3%A9&flag` });
    expect(seen.headers).toMatchObject({ host: "mcp.example.org", forwardedFor: "127.0.0.1", forwardedProto: "http", forwardedHost: "mcp.example.org" });
  });
});

describe("abandoned sessions end with the protocol's DELETE", () => {
  it("an abandoned session gets DELETE with the client's key after the idle timeout, and its server processes are gone", async () => {
    const guard = await guardFor();
    const connected = await connect(guard.url);
    await connected.client.listTools();
    expect(upstream.liveGroups(connected.sessionId)).toHaveLength(2);
    const abandonedAt = Date.now();
    await abandon(connected);

    const del = await deleteFromGuard(connected.sessionId);
    expect(Date.now() - abandonedAt).toBeGreaterThanOrEqual(1_000);
    expect(del).toMatchObject({ path: ENDPOINT, query: "", status: 200, credential: { source: "x-api-key", value: KEYS.header } });
    await waitUntil(() => upstream.liveGroups(connected.sessionId).length === 0, 10_000, "the session's process groups gone");
    expect(upstream.sessionIds()).not.toContain(connected.sessionId);

    const ended = await guard.waitForRecord((r) => r.event === "session_ended", 5_000, "the session_ended line");
    expect(ended).toMatchObject({ level: "info", reason: "idle", delete: "HTTP 200", session: `${connected.sessionId.slice(0, 8)}…` });
    expect(await metric(guard, "sessions_ended_total", { reason: "idle" })).toBe(1);
    expect(await metric(guard, "deletes_total", { result: "ok" })).toBe(1);
    expect(await metric(guard, "sessions")).toBe(0);
  });

  it("a session in use is never ended, while an abandoned one beside it is", async () => {
    const guard = await guardFor();
    const [busy, idle] = await Promise.all([connect(guard.url), connect(guard.url)]);
    await abandon(idle);
    const until = Date.now() + 3_500;
    while (Date.now() < until) {
      await busy.client.callTool({ name: "everything__echo", arguments: { message: "still here" } });
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await deleteFromGuard(idle.sessionId);
    expect(deletesFromGuard(busy.sessionId)).toEqual([]);
    expect(upstream.liveGroups(busy.sessionId)).toHaveLength(2);
  });

  it("a killed client process (no DELETE, its connection closed by the kernel) is ended too", async () => {
    const guard = await guardFor();
    const script = path.join(__dirname, "support", "abandoningClient.mjs");
    const child = spawn(process.execPath, [script, `${guard.url}${ENDPOINT}`, KEYS.header], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await waitUntil(() => out.includes("\n"), 20_000, "the client's session id");
      const { sessionId } = JSON.parse(out) as { sessionId: string };
      child.kill("SIGKILL");
      await deleteFromGuard(sessionId);
      await waitUntil(() => upstream.liveGroups(sessionId).length === 0, 10_000, "the killed client's process groups gone");
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("the DELETE replays the credentials the client last used", () => {
  const cases: Array<{ name: string; auth: Auth; endpoint?: string; expected: Partial<RecordedRequest> }> = [
    { name: "X-API-Key header", auth: { header: KEYS.header }, expected: { query: "", credential: { source: "x-api-key", value: KEYS.header } } },
    {
      name: "?api_key= query parameter",
      auth: { query: KEYS.query, param: "api_key" },
      expected: { query: `api_key=${KEYS.query}`, credential: { source: "query", value: KEYS.query } },
    },
    {
      name: "?apikey= query parameter",
      auth: { query: KEYS.query, param: "apikey" },
      expected: { query: `apikey=${KEYS.query}`, credential: { source: "query", value: KEYS.query } },
    },
    { name: "Authorization: Bearer", auth: { bearer: KEYS.bearer }, expected: { credential: { source: "authorization", value: KEYS.bearer } } },
    {
      name: "the UI inspector's cookie on /mcp-proxy",
      auth: { cookie: KEYS.cookie },
      endpoint: "/mcp-proxy/metamcp/ns-1/mcp",
      expected: { path: "/mcp-proxy/metamcp/ns-1/mcp", credential: { source: "cookie", value: KEYS.cookie } },
    },
  ];

  it.each(cases)("$name", async ({ auth, endpoint, expected }) => {
    const guard = await guardFor();
    const connected = await connect(guard.url, auth, endpoint);
    await abandon(connected);
    const del = await deleteFromGuard(connected.sessionId);
    expect(del).toMatchObject({ path: endpoint ?? ENDPOINT, status: 200, ...expected });
    await waitUntil(() => upstream.liveGroups(connected.sessionId).length === 0, 10_000, "the process groups gone");
  });

  it("a key changed mid-session is the one replayed; a refused one never is", async () => {
    const guard = await guardFor();
    const connected = await connect(guard.url, { header: KEYS.header });
    await abandon(connected);
    const accepted = await ping(guard.url, connected.sessionId, { "x-api-key": KEYS.header2 });
    expect(accepted.status).toBe(200);
    await accepted.text();
    const refused = await ping(guard.url, connected.sessionId, { "x-api-key": "sk_wrong_0000" });
    expect(refused.status).toBe(401);
    await refused.text();
    const del = await deleteFromGuard(connected.sessionId);
    expect(del.credential).toEqual({ source: "x-api-key", value: KEYS.header2 });
  });
});

describe("404: MetaMCP no longer has the session", () => {
  it("the guard forgets it, and the client starts a new session that the guard tracks", async () => {
    const guard = await guardFor({ GUARD_IDLE_TIMEOUT: "30s" });
    const first = await connect(guard.url);
    // MetaMCP ends the session on its own (its SESSION_LIFETIME sweep, say), behind the guard's back.
    const direct = await fetch(`${upstream.url}${ENDPOINT}`, { method: "DELETE", headers: { "mcp-session-id": first.sessionId, "x-api-key": KEYS.header } });
    expect(direct.status).toBe(200);
    await expect(first.client.listTools()).rejects.toThrow(/HTTP 404/);
    await guard.waitForRecord((r) => r.event === "session_ended" && r.reason === "not_found", 5_000, "the not_found line");
    expect(await metric(guard, "sessions_ended_total", { reason: "not_found" })).toBe(1);

    // Per the spec, a client that gets 404 starts over with a new InitializeRequest.
    await first.client.close();
    const second = await connect(guard.url);
    expect(second.sessionId).not.toBe(first.sessionId);
    expect((await second.client.listTools()).tools.length).toBeGreaterThan(10);
    expect(await metric(guard, "sessions_started_total", { origin: "initialize" })).toBe(2);
    expect(await metric(guard, "sessions")).toBe(1);
    expect(deletesFromGuard(first.sessionId)).toEqual([]);
  });

  it("the client's own DELETE is forwarded and the session forgotten", async () => {
    const guard = await guardFor();
    const connected = await connect(guard.url);
    await connected.transport.terminateSession();
    await guard.waitForRecord((r) => r.event === "session_ended" && r.reason === "client_delete", 5_000, "the client_delete line");
    await waitUntil(() => upstream.liveGroups(connected.sessionId).length === 0, 10_000, "the process groups gone");
    expect(deletesFromGuard(connected.sessionId)).toEqual([]);
  });
});

describe("MetaMCP restarting", () => {
  it("502 while it is down, the guard keeps running, then 404 makes it forget and the client starts over", async () => {
    const guard = await guardFor({ GUARD_IDLE_TIMEOUT: "1m" });
    const connected = await connect(guard.url);
    await upstream.stop();
    try {
      const res = await ping(guard.url, connected.sessionId, { "x-api-key": KEYS.header });
      expect(res.status).toBe(502);
      expect(await res.text()).toMatch(/^metamcp-guard: MetaMCP is not answering \(ECONNREFUSED\); try again shortly\n$/);
      const health = await fetch(`http://127.0.0.1:${guard.metricsPort}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.text()).toContain("MetaMCP not answering");
      expect(await metric(guard, "upstream_up")).toBe(0);
      expect(await metric(guard, "upstream_errors_total", { code: "ECONNREFUSED" })).toBeGreaterThanOrEqual(1);
      await guard.waitForRecord((r) => r.event === "upstream_unreachable", 2_000, "the upstream_unreachable line");
    } finally {
      await upstream.start();
    }
    await expect(connected.client.listTools()).rejects.toThrow(/HTTP 404/);
    await guard.waitForRecord((r) => r.event === "session_ended" && r.reason === "not_found", 5_000, "the not_found line");
    await guard.waitForRecord((r) => r.event === "upstream_reachable", 2_000, "the upstream_reachable line");
    await connected.client.close();
    const again = await connect(guard.url);
    expect((await again.client.listTools()).tools.length).toBeGreaterThan(10);
    expect(guard.child.exitCode).toBeNull();
  });

  it("an open GET stream is ended when MetaMCP goes away, not left hanging", async () => {
    const guard = await guardFor({ GUARD_IDLE_TIMEOUT: "1m" });
    const connected = await connect(guard.url);
    await waitUntil(async () => (await metric(guard, "open_streams")) === 1, 5_000, "the GET stream open through the guard");
    await upstream.stop();
    try {
      await waitUntil(async () => (await metric(guard, "open_streams")) === 0, 5_000, "the cut GET stream closed at the client side");
    } finally {
      await upstream.start();
    }
    await abandon(connected);
  });

  it("a DELETE MetaMCP cannot take is retried each sweep, then the session is forgotten with a warning", async () => {
    const guard = await guardFor({ GUARD_IDLE_TIMEOUT: "500ms", GUARD_DELETE_ATTEMPTS: "2" });
    const connected = await connect(guard.url);
    await upstream.stop();
    try {
      await abandon(connected);
      const failed = await guard.waitForRecord((r) => r.event === "delete_failed", 10_000, "the delete_failed line");
      expect(failed).toMatchObject({ level: "warn", failures: 1, of: 2, delete: expect.stringMatching(/^network: connect ECONNREFUSED/) });
      const ended = await guard.waitForRecord((r) => r.event === "session_ended", 10_000, "the session_ended line");
      expect(ended).toMatchObject({ level: "warn", reason: "delete_failed" });
      expect(await metric(guard, "deletes_total", { result: "network" })).toBe(2);
      expect(await metric(guard, "sessions_ended_total", { reason: "delete_failed" })).toBe(1);
    } finally {
      await upstream.start();
    }
  });

  it("a session abandoned while MetaMCP restarted gets its DELETE once MetaMCP is back, and is forgotten", async () => {
    const guard = await guardFor({ GUARD_IDLE_TIMEOUT: "1500ms" });
    const connected = await connect(guard.url);
    await upstream.stop();
    await abandon(connected);
    await upstream.start();
    const del = await deleteFromGuard(connected.sessionId);
    // A restarted MetaMCP answers 200 for an id it no longer knows.
    expect(del.status).toBe(200);
    await guard.waitForRecord((r) => r.event === "session_ended" && r.reason === "idle", 5_000, "the session_ended line");
  });
});

describe("bounds and lifetimes", () => {
  it("past GUARD_MAX_SESSIONS a session is forwarded but not tracked, and counted", async () => {
    const guard = await guardFor({ GUARD_MAX_SESSIONS: "1", GUARD_IDLE_TIMEOUT: "1m" });
    const tracked = await connect(guard.url);
    const untracked = await connect(guard.url);
    expect((await untracked.client.listTools()).tools.length).toBeGreaterThan(10);
    expect(await metric(guard, "sessions")).toBe(1);
    expect(await metric(guard, "sessions_untracked_total")).toBeGreaterThanOrEqual(1);
    await guard.waitForRecord((r) => r.event === "sessions_untracked", 5_000, "the sessions_untracked warning");
    await abandon(tracked);
    await abandon(untracked);
  });

  it("GUARD_MAX_LIFETIME ends a session in use, GET stream and all", async () => {
    const guard = await guardFor({ GUARD_IDLE_TIMEOUT: "1m", GUARD_MAX_LIFETIME: "2s" });
    const connected = await connect(guard.url);
    const del = await deleteFromGuard(connected.sessionId);
    expect(del.credential).toEqual({ source: "x-api-key", value: KEYS.header });
    await guard.waitForRecord((r) => r.event === "session_ended" && r.reason === "lifetime", 5_000, "the lifetime line");
    await expect(connected.client.listTools()).rejects.toThrow(/HTTP 404/);
  });

  it("a guard that restarts adopts the sessions MetaMCP still holds, and ends them when abandoned", async () => {
    const first = await guardFor({ GUARD_IDLE_TIMEOUT: "1m" });
    const connected = await connect(first.url);
    expect(await first.stop("SIGTERM")).toBe(0);
    // Stopping the guard ends nothing: MetaMCP keeps the session.
    expect(upstream.sessionIds()).toContain(connected.sessionId);
    await connected.client.close();

    const second = await guardFor();
    const resumed = await connect(second.url, { header: KEYS.header }, ENDPOINT, connected.sessionId);
    expect((await resumed.client.listTools()).tools.length).toBeGreaterThan(10);
    expect(await metric(second, "sessions_started_total", { origin: "adopted" })).toBe(1);
    await abandon(resumed);
    await deleteFromGuard(connected.sessionId);
    await waitUntil(() => upstream.liveGroups(connected.sessionId).length === 0, 10_000, "the adopted session's groups gone");
  });
});

describe("SIGTERM", () => {
  it("lets a call in flight finish, cuts the GET stream after the drain, and exits 0", async () => {
    const guard = await guardFor({ GUARD_DRAIN_TIMEOUT: "4s", GUARD_IDLE_TIMEOUT: "1m" });
    const connected = await connect(guard.url);
    const call = connected.client.callTool({ name: "everything__trigger-long-running-operation", arguments: { duration: 1.5, steps: 3 } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stoppedAt = Date.now();
    const exit = guard.stop("SIGTERM");
    expect(JSON.stringify((await call).content)).toContain("completed");
    expect(await exit).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(8_000);
    expect(guard.records().map((r) => r.event)).toEqual(expect.arrayContaining(["stopping", "stop"]));
    // The session is MetaMCP's, not the guard's: it outlives the guard.
    expect(upstream.sessionIds()).toContain(connected.sessionId);
    await abandon(connected);
  });
});

describe("upgrades", () => {
  it("a WebSocket upgrade is passed through both ways", async () => {
    // An upstream that accepts any upgrade and echoes what it receives.
    const echo = http.createServer((_req, res) => res.writeHead(404).end());
    echo.on("upgrade", (_req, socket) => {
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
    try {
      const guard = await startGuard({ GUARD_UPSTREAM: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` });
      guards.push(guard);
      const socket = await new Promise<Duplex>((resolve, reject) => {
        const req = http.request(`${guard.url}/ws`, { headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
        req.on("upgrade", (res, upgraded) => (res.statusCode === 101 ? resolve(upgraded) : reject(new Error(`status ${res.statusCode}`))));
        req.on("response", (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
        req.on("error", reject);
        req.end();
      });
      const echoed = new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
      socket.write("frame through the guard");
      expect(await echoed).toBe("frame through the guard");
      socket.destroy();
    } finally {
      echo.closeAllConnections();
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});

describe("secrets", () => {
  it("no key, token, cookie, query value or full session id appears in any guard's log or metrics", async () => {
    expect(guards.length).toBeGreaterThan(10);
    const live = guards.find((g) => g.child.exitCode === null)!;
    const texts = [...guards.map((g) => g.output()), await live.metricsText()];
    const sessionIds = [...upstream.groups.keys()];
    expect(sessionIds.length).toBeGreaterThan(10);
    // The request log was on: the paths are there, with the query values redacted.
    expect(texts.join("")).toContain('"path":"/metamcp/default/mcp?api_key=<redacted>"');
    for (const text of texts) {
      for (const secret of [...Object.values(KEYS), "sk_wrong_0000", ...sessionIds]) expect(text).not.toContain(secret);
    }
  });
});
