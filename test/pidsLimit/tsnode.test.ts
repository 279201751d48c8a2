// The provider as Pulumi really runs it: the program is loaded with ts-node (CommonJS), @pulumi/pulumi/dynamic
// serializes the provider, and the dynamic-provider host later evaluates that text in another process. Here
// the text is evaluated in a fresh Node process whose working directory is an empty temp folder, so the
// provider cannot lean on this repository or its node_modules, and it is driven against the real engine.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithDocker, docker, removeTestContainers, runTestContainer } from "../support/docker";
import { busyboxImage } from "../support/images";
import { runNode } from "../support/runNode";

const ROOT = path.resolve(__dirname, "../..");
const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const MIB = 1024 * 1024;

/**
 * Runs in the fresh process: loads the serialized text like the dynamic-provider host
 * (`requireFromString(text).handler()`), then check → create → read → drift → update → delete → read.
 */
const DRIVER = String.raw`
const Module = require("node:module");
const { execFileSync } = require("node:child_process");
const [file, host, id] = process.argv.slice(1);
const m = new Module(file);
m.filename = file;
m.paths = Module._nodeModulePaths(process.cwd());
m._compile(require("node:fs").readFileSync(file, "utf8"), file);
const p = m.exports.handler();
(async () => {
  const inputs = { dockerHost: host, containerId: id, limit: 33, memory: 64 * 1048576, memorySwap: 64 * 1048576, running: true };
  const check = await p.check({}, inputs);
  const created = await p.create(inputs);
  const read = await p.read(created.id, created.outs);
  execFileSync("docker", ["update", "--pids-limit", "66", id]);
  const drift = await p.read(created.id, created.outs);
  const diff = await p.diff(created.id, drift.props, inputs);
  const updated = await p.update(created.id, drift.props, inputs);
  await p.delete(created.id, updated.outs);
  const afterDelete = await p.read(created.id, updated.outs);
  const missing = await p.read("gone", { ...inputs, containerId: "no-such-container-mmg" });
  console.log(JSON.stringify({ check, created, read, drift, diff, updated, afterDelete, missing }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describeWithDocker("provider serialized under ts-node, evaluated in a fresh process", () => {
  let tmp: string;
  let id: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pids-tsnode-"));
    id = await runTestContainer("--network", "none", await busyboxImage(), "sleep", "3600");
  });
  afterAll(async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    await removeTestContainers();
  });

  it("round-trips and drives the real engine", async () => {
    const file = path.join(tmp, "provider.js");
    const summary = JSON.parse(
      await runNode(
        ["test/support/registerTsNodeLikePulumi.js", "test/support/serializeUnderTsNode.ts", file, "PidsLimit"],
        ROOT,
      ),
    );
    expect(summary.commonjs).toBe(true);
    const text = fs.readFileSync(file, "utf8");
    expect(text).toContain("exports.handler");
    // Only Node builtins are required at run time; nothing from the repository or node_modules.
    const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map((r) => r[1]);
    expect(required.length).toBeGreaterThan(0);
    expect(required.every((r) => r.startsWith("node:"))).toBe(true);

    const result = JSON.parse(await runNode(["-e", DRIVER, file, HOST, id], tmp));
    const outs = (limit: number) => ({ dockerHost: HOST, containerId: id, limit, memory: 64 * MIB, memorySwap: 64 * MIB, running: true });
    expect(result.check.failures).toEqual([]);
    expect(result.created).toEqual({ id, outs: outs(33) });
    expect(result.read).toEqual({ id, props: outs(33) });
    expect(result.drift).toEqual({ id, props: outs(66) });
    expect(result.diff).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(result.updated).toEqual({ outs: outs(33) });
    // Delete leaves the container as it is: the cap stays.
    expect(result.afterDelete).toEqual({ id, props: outs(33) });
    expect(result.missing).toEqual({});
    expect(await docker("inspect", "-f", "{{.HostConfig.PidsLimit}}", id)).toBe("33");
  });
});
