// A real MCP client on MetaMCP's SSE transport, in a process of its own so the e2e can kill it: it
// connects to the URL it is given (X-API-Key auth), lists the tools, prints {"tools": n} and waits,
// its event stream open, until something kills it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";

const [url, apiKey] = process.argv.slice(2);
const headers = { "x-api-key": apiKey };
const client = new Client({ name: "e2e-sse-client", version: "1.0.0" });
const transport = new SSEClientTransport(new URL(url), {
  eventSourceInit: { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...headers } }) },
  requestInit: { headers },
});
await client.connect(transport);
const { tools } = await client.listTools();
process.stdout.write(`${JSON.stringify({ tools: tools.length })}\n`);
setInterval(() => undefined, 60_000);
