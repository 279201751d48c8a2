/**
 * An MCP Streamable HTTP server that behaves like MetaMCP 2.4.22 where the session guard and the stack
 * meet it, for tests that cannot run MetaMCP itself (CI cannot fetch it):
 *
 * - `POST/GET/DELETE /metamcp/<endpoint>/mcp`, authenticated like MetaMCP's public endpoints
 *   (`X-API-Key`, `Authorization: Bearer`, or `?api_key=` / `?apikey=` when query auth is on: 401 otherwise),
 *   and `/mcp-proxy/metamcp/<namespace>/mcp` authenticated by a session cookie, like the UI's inspector;
 * - a POST without `Mcp-Session-Id` starts a session: like MetaMCP, it spawns one real stdio MCP server
 *   per server of the namespace (by default @modelcontextprotocol/server-everything and server-filesystem,
 *   run with `node <their bin>`, each detached into its own process group), aggregates their tools as
 *   `<server>__<tool>`, forwards calls and their progress notifications, and answers with the session id;
 * - an unknown session id gets 404 on POST and GET; DELETE closes the session's groups (SIGTERM to each
 *   group, as MetaMCP does) and answers 200, for an unknown id too;
 * - `stop()` is MetaMCP going down (connections cut, every group ended, every session forgotten) and
 *   `start()` brings it back on the same port with no sessions, as a restarted MetaMCP.
 *
 * Every request is recorded (method, path, query, session id, which credential, forwarded headers,
 * status) so tests can say what reached "MetaMCP".
 *
 *     const upstream = await McpUpstream.start({ apiKeys: ["sk_test"] });
 *     // … point the guard (or a client) at upstream.url …
 *     await upstream.close();
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type JSONRPCMessage, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { REPO_ROOT } from "./compile";

/** The cookie MetaMCP's UI (better-auth) authenticates the inspector's /mcp-proxy routes with. */
export const SESSION_COOKIE = "better-auth.session_token";
const TOOL_SEPARATOR = "__";

export interface StdioServerSpec {
  /** Prefix of its tools, as MetaMCP names a namespace's servers. */
  name: string;
  command: string;
  args: string[];
}

/** `node <bin>` of an MCP server package installed in the repository's node_modules (never npx: no network). */
export function installedServer(name: string, packageName: string, args: string[] = []): StdioServerSpec {
  const dir = path.join(REPO_ROOT, "node_modules", packageName);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === "string" ? manifest.bin : Object.values(manifest.bin)[0];
  return { name, command: process.execPath, args: [path.join(dir, bin), ...args] };
}

/** The two servers of the namespace the measurements on real MetaMCP used. */
export function defaultServers(filesystemRoot: string): StdioServerSpec[] {
  return [
    installedServer("everything", "@modelcontextprotocol/server-everything", ["stdio"]),
    installedServer("filesystem", "@modelcontextprotocol/server-filesystem", [filesystemRoot]),
  ];
}

export interface UpstreamOptions {
  /** Port to listen on (127.0.0.1); 0 picks one. */
  port?: number;
  /** Endpoint names served under /metamcp/<name>/mcp. */
  endpoints?: string[];
  /** Keys accepted by X-API-Key, Bearer and the query; also accepted as the UI's session cookie. */
  apiKeys?: string[];
  /** MetaMCP's per-endpoint "use_query_param_auth". */
  queryAuth?: boolean;
  /** The namespace's servers; by default everything and filesystem (over a temp folder this upstream owns). */
  servers?: StdioServerSpec[];
}

export type CredentialSource = "x-api-key" | "authorization" | "query" | "cookie" | "none";

export interface RecordedRequest {
  method: string;
  path: string;
  /** The raw query string without "?" ("" when none). */
  query: string;
  sessionId?: string;
  credential: { source: CredentialSource; value?: string };
  headers: {
    host?: string;
    userAgent?: string;
    forwardedFor?: string;
    forwardedProto?: string;
    forwardedHost?: string;
    protocolVersion?: string;
  };
  status: number;
}

interface Backend {
  name: string;
  child: ChildProcess;
  pgid: number;
  client: Client;
  tools: Tool[];
}

interface UpstreamSession {
  id: string;
  transport: StreamableHTTPServerTransport;
  server: Server;
  backends: Backend[];
}

export class McpUpstream {
  readonly requests: RecordedRequest[] = [];
  /** Process group ids spawned for each session, kept after it ends so tests can check they are gone. */
  readonly groups = new Map<string, number[]>();
  private readonly sessions = new Map<string, UpstreamSession>();
  private readonly endpoints: Set<string>;
  private readonly keys: Set<string>;
  private readonly queryAuth: boolean;
  private readonly servers: StdioServerSpec[];
  private readonly ownRoot?: string;
  private server?: http.Server;
  private boundPort: number;

  private constructor(options: UpstreamOptions) {
    this.endpoints = new Set(options.endpoints ?? ["default"]);
    this.keys = new Set(options.apiKeys ?? ["sk_test_upstream"]);
    this.queryAuth = options.queryAuth ?? true;
    if (options.servers) {
      this.servers = options.servers;
    } else {
      this.ownRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-upstream-fs-"));
      fs.writeFileSync(path.join(this.ownRoot, "hello.txt"), "hello from the filesystem server\n");
      this.servers = defaultServers(this.ownRoot);
    }
    this.boundPort = options.port ?? 0;
  }

  static async start(options: UpstreamOptions = {}): Promise<McpUpstream> {
    const upstream = new McpUpstream(options);
    await upstream.start();
    return upstream;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** Listens (again, on the same port after stop()): MetaMCP is up, with no sessions. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.boundPort, "127.0.0.1", () => resolve());
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** MetaMCP goes down: open connections are cut, every session's groups end, the sessions are gone. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await Promise.all([...this.sessions.keys()].map((id) => this.closeSession(id)));
  }

  /** stop(), and removes the temp folder this upstream made. */
  async close(): Promise<void> {
    await this.stop();
    if (this.ownRoot) fs.rmSync(this.ownRoot, { recursive: true, force: true });
  }

  sessionIds(): string[] {
    return [...this.sessions.keys()];
  }

  /** Process groups still alive among those spawned for `sessionId` (all sessions when omitted). */
  liveGroups(sessionId?: string): number[] {
    const pgids = sessionId === undefined ? [...this.groups.values()].flat() : (this.groups.get(sessionId) ?? []);
    return pgids.filter(groupAlive);
  }

  /** A server-initiated message (a log notification): it travels on the session's standalone GET stream. */
  async notify(sessionId: string, text: string): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) throw new Error(`no upstream session ${sessionId}`);
    await session.server.sendLoggingMessage({ level: "info", data: text });
  }

  /** Requests recorded so far with the given method (and session id). */
  seen(method: string, sessionId?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && (sessionId === undefined || r.sessionId === sessionId));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://upstream");
    const sessionId = header(req, "mcp-session-id");
    const credential = this.credentialOf(req, url);
    res.once("close", () =>
      this.requests.push({
        method: req.method ?? "",
        path: url.pathname,
        query: url.search.replace(/^\?/, ""),
        ...(sessionId !== undefined ? { sessionId } : {}),
        credential,
        headers: {
          host: header(req, "host"),
          userAgent: header(req, "user-agent"),
          forwardedFor: header(req, "x-forwarded-for"),
          forwardedProto: header(req, "x-forwarded-proto"),
          forwardedHost: header(req, "x-forwarded-host"),
          protocolVersion: header(req, "mcp-protocol-version"),
        },
        status: res.statusCode,
      }),
    );
    try {
      const route = this.route(url.pathname);
      if (!route) return json(res, 404, { error: "Endpoint not found", message: `No endpoint found for ${url.pathname}` });
      const authorized = route === "ui" ? credential.source === "cookie" : credential.source !== "none" && credential.source !== "cookie";
      if (!authorized || credential.value === undefined || !this.keys.has(credential.value)) {
        return json(res, 401, { error: "invalid_api_key", error_description: "The provided API key is invalid or expired" });
      }
      switch (req.method) {
        case "POST":
          return sessionId === undefined ? await this.initialize(req, res) : await this.forward(req, res, sessionId);
        case "GET":
          return await this.forward(req, res, sessionId);
        case "DELETE":
          if (sessionId === undefined) return json(res, 400, { error: "Missing sessionId" });
          await this.closeSession(sessionId);
          return json(res, 200, { message: "Session cleaned up successfully", sessionId });
        default:
          return json(res, 405, { error: "Method not allowed" });
      }
    } catch (error) {
      if (!res.headersSent) json(res, 500, { error: "Internal server error", message: (error as Error).message });
      else res.destroy();
    }
  }

  /** "public" for /metamcp/<endpoint>/mcp, "ui" for the inspector's /mcp-proxy/metamcp/<namespace>/mcp. */
  private route(pathname: string): "public" | "ui" | undefined {
    const publicRoute = /^\/metamcp\/([^/]+)\/mcp$/.exec(pathname);
    if (publicRoute) return this.endpoints.has(decodeURIComponent(publicRoute[1])) ? "public" : undefined;
    return /^\/mcp-proxy\/metamcp\/[^/]+\/mcp$/.test(pathname) ? "ui" : undefined;
  }

  /** MetaMCP's order: X-API-Key, then a Bearer token, then the query (when enabled); the UI's cookie apart. */
  private credentialOf(req: http.IncomingMessage, url: URL): RecordedRequest["credential"] {
    const apiKey = header(req, "x-api-key");
    if (apiKey) return { source: "x-api-key", value: apiKey };
    const authorization = header(req, "authorization");
    if (authorization?.startsWith("Bearer ")) return { source: "authorization", value: authorization.slice(7) };
    const queryKey = url.searchParams.get("api_key") || url.searchParams.get("apikey");
    if (this.queryAuth && queryKey) return { source: "query", value: queryKey };
    const cookie = header(req, "cookie")
      ?.split(";")
      .map((part) => part.trim().split("="))
      .find(([name]) => name === SESSION_COOKIE);
    if (cookie) return { source: "cookie", value: cookie.slice(1).join("=") };
    return { source: "none" };
  }

  private async initialize(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Like MetaMCP: the id is chosen and the namespace's servers are started before the request is handled.
    const id = randomUUID();
    const backends = await Promise.all(this.servers.map((spec) => startBackend(spec)));
    this.groups.set(id, backends.map((b) => b.pgid));
    const server = aggregateServer(backends);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => id });
    this.sessions.set(id, { id, transport, server, backends });
    await server.connect(transport);
    await transport.handleRequest(req, res);
    if (transport.sessionId === undefined) await this.closeSession(id); // not an initialize request after all
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse, sessionId: string | undefined): Promise<void> {
    const session = sessionId === undefined ? undefined : this.sessions.get(sessionId);
    if (!session) {
      if (req.method === "GET") return void res.writeHead(404).end("Session not found");
      return json(res, 404, { error: "Session not found", message: `Transport not found for sessionId ${sessionId}` });
    }
    await session.transport.handleRequest(req, res);
  }

  private async closeSession(id: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    await session.transport.close().catch(() => undefined);
    await Promise.all(session.backends.map((backend) => stopBackend(backend)));
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** MCP over a child's stdin/stdout, newline-delimited JSON, as the SDK's stdio transport speaks it. */
class ChildStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly buffer = new ReadBuffer();

  constructor(private readonly child: ChildProcess) {}

  async start(): Promise<void> {
    this.child.stdout!.on("data", (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.buffer.readMessage();
        } catch (error) {
          this.onerror?.(error as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    });
    this.child.once("exit", () => this.onclose?.());
    this.child.on("error", (error) => this.onerror?.(error));
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.child.stdin?.writable) this.child.stdin.write(serializeMessage(message));
  }

  /** As MetaMCP closes a server: SIGTERM to its whole group. */
  async close(): Promise<void> {
    signalGroup(this.child.pid!, "SIGTERM");
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function startBackend(spec: StdioServerSpec): Promise<Backend> {
  // detached: its own session and process group (sid = pgid = pid), as MetaMCP spawns servers.
  const child = spawn(spec.command, spec.args, { detached: true, stdio: ["pipe", "pipe", "ignore"] });
  const client = new Client({ name: "mcp-upstream", version: "1.0.0" });
  try {
    await client.connect(new ChildStdioTransport(child));
    const { tools } = await client.listTools();
    return { name: spec.name, child, pgid: child.pid!, client, tools };
  } catch (error) {
    signalGroup(child.pid!, "SIGKILL");
    throw error;
  }
}

/** Closes the client (SIGTERM to the group) and waits for the process to exit; SIGKILL after 5 s. */
async function stopBackend(backend: Backend): Promise<void> {
  const exited = backend.child.exitCode !== null || backend.child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => backend.child.once("exit", () => resolve()));
  await backend.client.close().catch(() => undefined);
  const timer = setTimeout(() => signalGroup(backend.pgid, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** One MCP server over all backends: tools listed as <server>__<tool>, calls routed with their progress. */
function aggregateServer(backends: Backend[]): Server {
  const server = new Server({ name: "metamcp-like", version: "2.4.22" }, { capabilities: { tools: {}, logging: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: backends.flatMap((backend) => backend.tools.map((tool) => ({ ...tool, name: `${backend.name}${TOOL_SEPARATOR}${tool.name}` }))),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const [serverName, ...rest] = request.params.name.split(TOOL_SEPARATOR);
    const backend = backends.find((b) => b.name === serverName);
    if (!backend) throw new Error(`unknown tool ${request.params.name}`);
    const progressToken = request.params._meta?.progressToken;
    // A backend often writes its last progress and its result in one chunk. Forwarding is asynchronous, so
    // without waiting the result could overtake that progress, and the client drops a progress that
    // arrives after its result.
    const forwarded: Promise<unknown>[] = [];
    const result = await backend.client.callTool({ name: rest.join(TOOL_SEPARATOR), arguments: request.params.arguments }, undefined, {
      signal: extra.signal,
      ...(progressToken !== undefined
        ? {
            resetTimeoutOnProgress: true,
            onprogress: (progress) =>
              forwarded.push(extra.sendNotification({ method: "notifications/progress", params: { ...progress, progressToken } }).catch(() => undefined)),
          }
        : {}),
    });
    await Promise.all(forwarded);
    return result;
  });
  return server;
}
