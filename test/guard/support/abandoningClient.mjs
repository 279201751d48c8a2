// A real MCP client in a process of its own, for tests that kill it: it connects through the URL it is
// given (X-API-Key auth), lists the tools, prints {"sessionId": …} and then waits, its GET stream open,
// until something kills it. It never sends DELETE.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, apiKey] = process.argv.slice(2);
const client = new Client({ name: "abandoning-client", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { "x-api-key": apiKey } } });
await client.connect(transport);
await client.listTools();
process.stdout.write(`${JSON.stringify({ sessionId: transport.sessionId })}\n`);
setInterval(() => undefined, 60_000);
