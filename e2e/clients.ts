/**
 * Real MCP SDK clients against MetaMCP through the guard, the ways clients behave in the field:
 * one session in use throughout (a tool call every few seconds), sessions abandoned by a client that is
 * killed (no DELETE: the leak), clean closes (DELETE), and SSE clients that drop.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { REPO_ROOT } from "../test/support/stackFiles";

export interface Endpoint {
  /** Streamable HTTP: http://127.0.0.1:<guard>/metamcp/<endpoint>/mcp */
  mcpUrl: string;
  /** SSE: http://127.0.0.1:<guard>/metamcp/<endpoint>/sse */
  sseUrl: string;
  apiKey: string;
}

async function connect(endpoint: Endpoint): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "metamcp-guard-e2e", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint.mcpUrl), { requestInit: { headers: { "x-api-key": endpoint.apiKey } } });
  await client.connect(transport);
  return { client, transport };
}

/** The session in use: calls the everything server's echo tool every `everyMs`, counting what fails. */
export class InUseSession {
  calls = 0;
  failed = 0;
  reconnects = 0;
  tools = 0;
  private timer: NodeJS.Timeout | undefined;
  private session: { client: Client; transport: StreamableHTTPClientTransport } | undefined;
  private echo = "";

  constructor(private readonly endpoint: Endpoint) {}

  async start(everyMs: number): Promise<void> {
    await this.open();
    const tick = async () => {
      this.calls++;
      try {
        await this.session!.client.callTool({ name: this.echo, arguments: { message: `ping ${this.calls}` } }, undefined, { timeout: 30_000 });
      } catch {
        this.failed++;
        // Per the MCP spec a client whose session is gone starts a new one; count it and go on.
        await this.open().then(() => this.reconnects++, () => undefined);
      }
      this.timer = setTimeout(tick, everyMs);
    };
    this.timer = setTimeout(tick, everyMs);
  }

  private async open(): Promise<void> {
    // A session that still answers is ended as the protocol says; one MetaMCP lost answers 404 to it.
    await this.session?.transport.terminateSession().catch(() => undefined);
    await this.session?.client.close().catch(() => undefined);
    this.session = await connect(this.endpoint);
    const { tools } = await this.session.client.listTools();
    this.tools = tools.length;
    this.echo = tools.find((t) => t.name.endsWith("echo"))?.name ?? "";
    if (!this.echo) throw new Error(`no echo tool among ${tools.length} tools: is the everything server up?`);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.session?.transport.terminateSession().catch(() => undefined);
    await this.session?.client.close().catch(() => undefined);
  }
}

/** A client that connects, lists the tools and is killed (SIGKILL): its session is never DELETEd. */
export async function abandonSession(endpoint: Endpoint): Promise<void> {
  await killedAfterFirstLine(path.join(REPO_ROOT, "test", "guard", "support", "abandoningClient.mjs"), [endpoint.mcpUrl, endpoint.apiKey]);
}

/** An SSE client that connects, lists the tools and is killed. */
export async function dropSseClient(endpoint: Endpoint): Promise<void> {
  await killedAfterFirstLine(path.join(__dirname, "sseClient.mjs"), [endpoint.sseUrl, endpoint.apiKey]);
}

/** A client that ends its session as the protocol says: DELETE. */
export async function closeCleanly(endpoint: Endpoint): Promise<void> {
  const { client, transport } = await connect(endpoint);
  await client.listTools();
  await transport.terminateSession();
  await client.close();
}

/** Runs a client script, waits for its first line of output (it is connected), then kills it. */
function killedAfterFirstLine(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${path.basename(script)} did not connect in 120 s: ${stderr.trim()}`));
    }, 120_000);
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.once("data", () => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      resolve();
    });
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL") {
        clearTimeout(timer);
        reject(new Error(`${path.basename(script)} exited (${code ?? signal}) before connecting: ${stderr.trim()}`));
      }
    });
  });
}
