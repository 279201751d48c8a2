// The provider as Pulumi really runs it: the program is loaded with ts-node (CommonJS), @pulumi/pulumi/dynamic
// serializes the provider, and the dynamic-provider host later evaluates that text in another process, in the
// project's directory (so `require("pg")` finds the project's node_modules, and nothing else of the repository is
// needed). Here the text is evaluated in a fresh Node process and driven against a real PostgreSQL both ways: with
// databaseUrl, and with psql in a container through the Engine API.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithDocker, removeTestContainers } from "../support/docker";
import { runNode } from "../support/runNode";
import { createConfigTable, createTestDatabase, describeWithPostgres, runPsqlTestContainer, type TestDatabase } from "../support/postgres";

const ROOT = path.resolve(__dirname, "../..");
const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";

/**
 * Runs in the fresh process: loads the serialized text like the dynamic-provider host
 * (`requireFromString(text).handler()`, module paths from the working directory), then for each way in:
 * check → create → read → drift (as MetaMCP's UI writes it) → read → diff → update → delete → read.
 */
const DRIVER = String.raw`
const Module = require("node:module");
const [file, ways] = [process.argv[1], JSON.parse(process.env.DRIVER_WAYS)];
const m = new Module(file);
m.filename = file;
m.paths = Module._nodeModulePaths(process.cwd());
m._compile(require("node:fs").readFileSync(file, "utf8"), file);
const p = m.exports.handler();
async function drift(url) {
  const { Client } = require("pg");
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query("UPDATE config SET value = '1', updated_at = now() WHERE id = 'MCP_MAX_ATTEMPTS'");
  await c.end();
}
(async () => {
  const out = {};
  for (const [name, { inputs, uiUrl }] of Object.entries(ways)) {
    const check = await p.check({}, inputs);
    const created = await p.create(inputs);
    const read = await p.read(created.id, created.outs);
    await drift(uiUrl);
    const drifted = await p.read(created.id, created.outs);
    const diff = await p.diff(created.id, drifted.props, inputs);
    const updated = await p.update(created.id, drifted.props, inputs);
    await p.delete(created.id, updated.outs);
    const afterDelete = await p.read(created.id, updated.outs);
    out[name] = { check, created, read, drifted, diff, updated, afterDelete };
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describeWithDocker("MetaMcpSettings provider serialized under ts-node, evaluated in a fresh process", () => {
  describeWithPostgres("against a real PostgreSQL", () => {
    let tmp: string;
    let viaUrl: TestDatabase;
    let viaExec: TestDatabase;
    let container: string;

    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "settings-tsnode-"));
      viaUrl = await createTestDatabase();
      viaExec = await createTestDatabase();
      await createConfigTable(viaUrl.url);
      await createConfigTable(viaExec.url);
      container = await runPsqlTestContainer();
    });
    afterAll(async () => {
      fs.rmSync(tmp, { recursive: true, force: true });
      await removeTestContainers();
      await viaUrl?.drop();
      await viaExec?.drop();
    });

    it("round-trips both ways in", async () => {
      const file = path.join(tmp, "provider.js");
      const summary = JSON.parse(
        await runNode(["test/support/registerTsNodeLikePulumi.js", "test/support/serializeUnderTsNode.ts", file, "MetaMcpSettings"], ROOT),
      );
      expect(summary.commonjs).toBe(true);
      const text = fs.readFileSync(file, "utf8");
      expect(text).toContain("exports.handler");
      // At run time only Node builtins and node-postgres (a dependency of the project) are required.
      const required = new Set([...text.matchAll(/require\("([^"]+)"\)/g)].map((r) => r[1]));
      expect([...required].filter((r) => !r.startsWith("node:"))).toEqual(["pg"]);

      const ways = {
        url: { inputs: { maxAttempts: "3", sessionLifetime: "86400000", databaseUrl: viaUrl.url, waitTimeoutMs: 10_000 }, uiUrl: viaUrl.url },
        exec: {
          inputs: { maxAttempts: "4", dockerHost: HOST, containerId: container, user: viaExec.user, database: viaExec.name, waitTimeoutMs: 10_000 },
          uiUrl: viaExec.url,
        },
      };
      const result = JSON.parse(await runNode(["-e", DRIVER, file], ROOT, { DRIVER_WAYS: JSON.stringify(ways) }));
      for (const [name, { inputs }] of Object.entries(ways)) {
        const r = result[name];
        expect(r.check.failures, name).toEqual([]);
        expect(r.created, name).toEqual({ id: "metamcp-settings", outs: inputs });
        expect(r.read, name).toEqual({ id: "metamcp-settings", props: inputs });
        expect(r.drifted.props.maxAttempts, name).toBe("1");
        expect(r.diff, name).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
        expect(r.updated, name).toEqual({ outs: inputs });
        expect(r.afterDelete, name).toEqual({ id: "metamcp-settings", props: inputs }); // delete left the rows
      }
    });
  });
});
