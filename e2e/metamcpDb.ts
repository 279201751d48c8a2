/**
 * MetaMCP's database, as its UI would fill it: two stdio MCP servers (started with `npx -y`, as
 * operators add them), one namespace holding both, a public endpoint with API-key auth, and one key.
 * Also what the figures read back: servers MetaMCP marked ERROR.
 */
import { randomBytes } from "node:crypto";
import type { Client as PgClient } from "pg";

export const ENDPOINT = "e2e";
export const SERVERS: Array<{ name: string; args: string[] }> = [
  { name: "everything", args: ["-y", "@modelcontextprotocol/server-everything"] },
  { name: "filesystem", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },
];

async function withClient<T>(databaseUrl: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const { Client } = require("pg") as typeof import("pg");
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Waits until MetaMCP's migrations have created its tables (it runs them at every container start). */
export async function waitForSchema(databaseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const ready = await withClient(databaseUrl, async (c) => (await c.query("select to_regclass('public.endpoints') is not null as ok")).rows[0].ok);
      if (ready) return;
    } catch {
      // not reachable yet: keep waiting
    }
    if (Date.now() > deadline) throw new Error(`MetaMCP's tables did not appear in ${timeoutMs / 1000} s; see its log (docker logs)`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** Replaces the e2e's rows with fresh ones; resolves to the API key clients use. */
export async function seed(databaseUrl: string): Promise<string> {
  const apiKey = `sk_mt_e2e_${randomBytes(16).toString("hex")}`;
  await withClient(databaseUrl, async (c) => {
    await c.query("begin");
    await c.query("delete from endpoints where name = $1", [ENDPOINT]);
    await c.query("delete from namespaces where name = $1", [ENDPOINT]);
    await c.query("delete from mcp_servers where name = any($1)", [SERVERS.map((s) => s.name)]);
    await c.query("delete from api_keys where name = $1", [ENDPOINT]);
    const namespace = (await c.query("insert into namespaces (name) values ($1) returning uuid", [ENDPOINT])).rows[0].uuid;
    for (const server of SERVERS) {
      const uuid = (await c.query("insert into mcp_servers (name, type, command, args) values ($1, 'STDIO', 'npx', $2) returning uuid", [server.name, server.args])).rows[0].uuid;
      await c.query("insert into namespace_server_mappings (namespace_uuid, mcp_server_uuid) values ($1, $2)", [namespace, uuid]);
    }
    await c.query("insert into endpoints (name, namespace_uuid, enable_api_key_auth) values ($1, $2, true)", [ENDPOINT, namespace]);
    await c.query("insert into api_keys (name, key, is_active) values ($1, $2, true)", [ENDPOINT, apiKey]);
    await c.query("commit");
  });
  return apiKey;
}

/** Names of the e2e's servers MetaMCP has marked ERROR (excluded for every client). */
export async function serversInError(databaseUrl: string): Promise<string[]> {
  return withClient(databaseUrl, async (c) =>
    (await c.query("select name from mcp_servers where error_status = 'ERROR' and name = any($1) order by name", [SERVERS.map((s) => s.name)])).rows.map((r) => r.name),
  );
}
