/**
 * McpUpstream (./mcpUpstream.ts) as a process of its own, for a benchmark or an e2e script that wants
 * "MetaMCP" outside its own event loop:
 *
 *     node -r ts-node/register/transpile-only test/support/mcpUpstreamMain.ts PORT KEY[,KEY…] [--no-servers]
 *
 * `--no-servers` gives a namespace without stdio servers: sessions cost only what the MCP SDK's
 * Streamable HTTP transport costs per request. Prints "listening" once it listens; SIGTERM stops it.
 */
import { McpUpstream } from "./mcpUpstream";

async function main(): Promise<void> {
  const [port, keys, ...flags] = process.argv.slice(2);
  if (!port || !keys) throw new Error("usage: mcpUpstreamMain.ts PORT KEY[,KEY…] [--no-servers]");
  const upstream = await McpUpstream.start({
    port: Number(port),
    apiKeys: keys.split(","),
    ...(flags.includes("--no-servers") ? { servers: [] } : {}),
  });
  process.stdout.write("listening\n");
  process.on("SIGTERM", () => void upstream.close().then(() => process.exit(0)));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
