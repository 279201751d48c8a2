/**
 * The pack as the Pulumi CLI starts it, minus the CLI: Pulumi's own runner
 * (@pulumi/pulumi/cmd/run-policy-pack, what the `pulumi-analyzer-policy` shim and the Node
 * language host run) is started in policy/ with "." as the program, compiles policy/index.ts
 * with ts-node, and prints the port of the analyzer's gRPC server. The test then speaks the
 * engine's side of the analyzer protocol to it. This proves the entry file, PulumiPolicy.yaml's
 * folder layout, package.json (main, version) and module resolution from the repository root's
 * node_modules; it cannot prove what a given CLI version does before starting the runner.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policies } from "../../policy/policies";
import { REPO_ROOT } from "../support/stackFiles";
import { containerProps } from "./support/fixtures";
import { urnOf } from "./support/harness";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzer = require("@pulumi/pulumi/proto/analyzer_pb") as any;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { AnalyzerClient } = require("@pulumi/pulumi/proto/analyzer_grpc_pb") as any;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Struct } = require("google-protobuf/google/protobuf/struct_pb") as any;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Empty } = require("google-protobuf/google/protobuf/empty_pb") as any;

const CONTAINER = "docker:index/container:Container";
const PIDS_LIMIT = "pulumi-nodejs:dynamic/metamcp-guard:PidsLimit";

let pack: ChildProcess;
let client: any;
let stderr = "";

/** Calls a unary RPC and resolves with its response. */
function call<T>(method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));
}

beforeAll(async () => {
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [join(REPO_ROOT, "policy")] });
  // The engine address is only passed through; nothing in the pack calls back to the engine.
  pack = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: join(REPO_ROOT, "policy"), stdio: ["ignore", "pipe", "pipe"] });
  pack.stderr!.on("data", (chunk) => (stderr += chunk));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    pack.stdout!.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(out.trim());
    });
    pack.on("exit", (code) => reject(new Error(`the pack exited (${code}) before serving:\n${stderr}`)));
  });
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 120_000);

afterAll(() => {
  client?.close();
  if (pack?.pid && pack.exitCode === null) process.kill(pack.pid);
});

function options(protect = false) {
  const opts = new analyzer.AnalyzerResourceOptions();
  opts.setProtect(protect);
  return opts;
}

function stackResource(type: string, name: string, props: Record<string, unknown>, dependsOn: string[] = []) {
  const r = new analyzer.AnalyzerResource();
  r.setType(type);
  r.setName(name);
  r.setUrn(urnOf("prod", type, name));
  r.setProperties(Struct.fromJavaScript(props));
  r.setOptions(options());
  r.setDependenciesList(dependsOn);
  return r;
}

interface Diagnostic {
  policy: string;
  level: number;
  message: string;
}

function diagnosticsOf(response: any): Diagnostic[] {
  return response.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), level: d.getEnforcementlevel(), message: d.getMessage() }));
}

describe("the pack served by Pulumi's runner", () => {
  it("announces its name, the version from policy/package.json and every policy", async () => {
    const info = await call<any>("getAnalyzerInfo", new Empty());
    expect({
      name: info.getName(),
      version: info.getVersion(),
      policies: info.getPoliciesList().map((p: any) => p.getName()),
    }).toEqual({ name: "metamcp-guard", version: "0.1.0", policies: policies.map((p) => p.name) });
  });

  it("analyzes a container without a memory limit and reports the mandatory violation", async () => {
    const request = new analyzer.AnalyzeRequest();
    request.setType(CONTAINER);
    request.setName("metamcp-container");
    request.setUrn(urnOf("prod", CONTAINER, "metamcp-container"));
    const props = containerProps("app", "prod");
    delete props.memory;
    request.setProperties(Struct.fromJavaScript(props));
    request.setOptions(options());
    const diagnostics = diagnosticsOf(await call("analyze", request));
    expect(diagnostics.map((d) => d.policy).sort()).toEqual(["container-memory-limit", "container-swap-disabled"]);
    expect(diagnostics.every((d) => d.level === analyzer.EnforcementLevel.MANDATORY)).toBe(true);
  });

  it("analyzes a stack: a container without a PidsLimit fails, one with it passes", async () => {
    const bare = stackResource(CONTAINER, "bare", containerProps("db", "prod"));
    const capped = stackResource(CONTAINER, "capped", containerProps("app", "prod"));
    const pids = stackResource(PIDS_LIMIT, "capped-pids", { containerId: "capped-id", limit: 100 }, [capped.getUrn()]);
    const request = new analyzer.AnalyzeStackRequest();
    request.setResourcesList([bare, capped, pids]);
    const diagnostics = diagnosticsOf(await call("analyzeStack", request));
    expect(diagnostics.filter((d) => d.policy === "container-pids-limit").map((d) => d.message)).toEqual([
      expect.stringContaining("bare (metamcp-prod-db) has no PidsLimit"),
    ]);
  });

  it("runs in a first preview, skipping only what is unknown (no \"can't run during preview\")", async () => {
    // How the engine marshals a value not known yet (Go's plugin.UnknownStringValue).
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const props = { ...containerProps("app", "prod"), image: unknown };
    const request = new analyzer.AnalyzeRequest();
    request.setType(CONTAINER);
    request.setName("metamcp-container");
    request.setUrn(urnOf("prod", CONTAINER, "metamcp-container"));
    request.setProperties(Struct.fromJavaScript(props));
    request.setOptions(options());
    const container = stackResource(CONTAINER, "metamcp-container", props);
    const pids = stackResource(PIDS_LIMIT, "metamcp-pids", { containerId: unknown, limit: 100 }, [container.getUrn()]);
    const stack = new analyzer.AnalyzeStackRequest();
    stack.setResourcesList([container, pids]);
    expect({
      resource: diagnosticsOf(await call("analyze", request)),
      stack: diagnosticsOf(await call("analyzeStack", stack)),
    }).toEqual({ resource: [], stack: [] });
  });

  // Last: the configuration stays with the server for the tests after it.
  it("takes policy config the way the CLI sends --policy-pack-config: a tighter PID range", async () => {
    const configure = new analyzer.ConfigureAnalyzerRequest();
    const pidsConfig = new analyzer.PolicyConfig();
    pidsConfig.setEnforcementlevel(analyzer.EnforcementLevel.MANDATORY);
    pidsConfig.setProperties(Struct.fromJavaScript({ maximum: 50 }));
    configure.getPolicyconfigMap().set("container-pids-limit", pidsConfig);
    await call("configure", configure);
    const capped = stackResource(CONTAINER, "capped", containerProps("app", "prod"));
    const pids = stackResource(PIDS_LIMIT, "capped-pids", { containerId: "capped-id", limit: 100 }, [capped.getUrn()]);
    const request = new analyzer.AnalyzeStackRequest();
    request.setResourcesList([capped, pids]);
    const diagnostics = diagnosticsOf(await call("analyzeStack", request));
    expect(diagnostics.filter((d) => d.policy === "container-pids-limit").map((d) => d.message)).toEqual([
      expect.stringContaining("caps capped (metamcp-prod) at 100 PIDs; allowed: 8 to 50"),
    ]);
  });
});
