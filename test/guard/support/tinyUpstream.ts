/**
 * The smallest upstream that hands out MCP session ids, as one dependency-free script, for places where
 * the MetaMCP-like upstream (test/support/mcpUpstream.ts) cannot go: inside a container, and under the
 * benchmark's load, where the upstream must cost as little as possible so the guard's overhead shows.
 *
 * `node upstream.js PORT`: a POST without `Mcp-Session-Id` gets a new id and a small JSON-RPC result; a
 * POST with a known id gets the result, an unknown id 404; DELETE ends the id (200) and is recorded with
 * the X-API-Key it carried; `GET /_records` answers {deletes, sessions}.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const TINY_UPSTREAM_JS = `"use strict";
const http = require("node:http");
const crypto = require("node:crypto");
const port = Number(process.argv[2]);
const sessions = new Set();
const deletes = [];
const result = JSON.stringify({ jsonrpc: "2.0", id: 1, result: {} });
const server = http.createServer((req, res) => {
  const id = req.headers["mcp-session-id"];
  if (req.url === "/_records") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ deletes, sessions: [...sessions] }));
    return;
  }
  if (req.method === "DELETE") {
    deletes.push({ id: id ?? null, apiKey: req.headers["x-api-key"] ?? null, path: req.url, userAgent: req.headers["user-agent"] ?? null });
    sessions.delete(id);
    res.writeHead(200, { "content-length": "0" }).end();
    return;
  }
  req.resume();
  req.on("end", () => {
    if (id === undefined) {
      const created = crypto.randomUUID();
      sessions.add(created);
      res.writeHead(200, { "content-type": "application/json", "mcp-session-id": created }).end(result);
    } else if (sessions.has(id)) {
      res.writeHead(200, { "content-type": "application/json" }).end(result);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("Session not found");
    }
  });
});
server.keepAliveTimeout = 5000;
server.listen(port, "127.0.0.1", () => process.stdout.write("listening\\n"));
process.on("SIGTERM", () => process.exit(0));
`;

/** Writes upstream.js into a new temp folder (readable by any uid) and returns the folder. */
export function writeTinyUpstream(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tiny-upstream-"));
  fs.writeFileSync(path.join(dir, "upstream.js"), TINY_UPSTREAM_JS);
  fs.chmodSync(dir, 0o755);
  return dir;
}

export interface TinyRecords {
  deletes: Array<{ id: string | null; apiKey: string | null; path: string; userAgent: string | null }>;
  sessions: string[];
}
