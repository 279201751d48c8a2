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
const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";

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

const DOCKER_HOST = "ssh://deploy@metamcp.example.internal";

/** The stack's Docker provider as the engine names it beside a resource. */
function dockerProvider(host = DOCKER_HOST) {
  const provider = new analyzer.AnalyzerProviderResource();
  provider.setType("pulumi:providers:docker");
  provider.setName("docker");
  provider.setUrn(urnOf("prod", "pulumi:providers:docker", "docker"));
  provider.setProperties(Struct.fromJavaScript({ host }));
  return provider;
}

interface Wiring {
  /** URNs of `dependsOn` and of every input's sources. */
  dependsOn?: string[];
  /** Per property, the URNs its value is computed from. */
  propertyDependencies?: Record<string, string[]>;
  provider?: unknown;
  stack?: string;
}

function stackResource(type: string, name: string, props: Record<string, unknown>, wiring: Wiring = {}) {
  const r = new analyzer.AnalyzerResource();
  r.setType(type);
  r.setName(name);
  r.setUrn(urnOf(wiring.stack ?? "prod", type, name));
  r.setProperties(Struct.fromJavaScript(props));
  r.setOptions(options());
  const propertyDependencies = wiring.propertyDependencies ?? {};
  r.setDependenciesList(wiring.dependsOn ?? Object.values(propertyDependencies).flat());
  for (const [property, urns] of Object.entries(propertyDependencies)) {
    const deps = new analyzer.AnalyzerPropertyDependencies();
    deps.setUrnsList(urns);
    r.getPropertydependenciesMap().set(property, deps);
  }
  if (wiring.provider) r.setProvider(wiring.provider);
  return r;
}

/** A container on the stack's provider, and its PidsLimit with containerId computed from it. */
function cappedContainer(name: string, role: "app" | "db", limit = 100) {
  const container = stackResource(CONTAINER, name, containerProps(role, "prod"), { provider: dockerProvider() });
  const pids = stackResource(PIDS_LIMIT, `${name}-pids`, { dockerHost: DOCKER_HOST, containerId: `${name}-id`, limit }, { propertyDependencies: { containerId: [container.getUrn()] } });
  return [container, pids];
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
    const bare = stackResource(CONTAINER, "bare", containerProps("db", "prod"), { provider: dockerProvider() });
    const request = new analyzer.AnalyzeStackRequest();
    request.setResourcesList([bare, ...cappedContainer("capped", "app")]);
    const diagnostics = diagnosticsOf(await call("analyzeStack", request));
    expect(diagnostics.filter((d) => d.policy === "container-pids-limit").map((d) => d.message)).toEqual([
      expect.stringContaining("bare (metamcp-prod-db) has no PidsLimit"),
    ]);
  });

  it("reads per-property dependencies and providers off the wire: a decoy beside the container by dependsOn, and a cap on another host, fail", async () => {
    const [capped] = cappedContainer("capped", "app");
    const decoy = stackResource(PIDS_LIMIT, "decoy", { dockerHost: DOCKER_HOST, containerId: "0123abcd", limit: 100 }, { dependsOn: [capped.getUrn()] });
    const [db] = cappedContainer("db", "db");
    const elsewhere = stackResource(PIDS_LIMIT, "elsewhere", { dockerHost: "ssh://deploy@other.internal", containerId: "db-id", limit: 100 }, {
      propertyDependencies: { containerId: [db.getUrn()] },
    });
    const request = new analyzer.AnalyzeStackRequest();
    request.setResourcesList([capped, decoy, db, elsewhere]);
    const diagnostics = diagnosticsOf(await call("analyzeStack", request));
    expect(diagnostics.filter((d) => d.policy === "container-pids-limit").map((d) => d.message)).toEqual([
      expect.stringContaining("capped (metamcp-prod) has no PidsLimit whose containerId is its id"),
      expect.stringContaining('elsewhere does not cap db (metamcp-prod-db): its dockerHost "ssh://deploy@other.internal" is not the container\'s Docker host'),
      expect.stringContaining('decoy caps "0123abcd", which is no container of this stack'),
    ]);
  });

  it("judges a resource's provider: a container on a plain tcp:// Docker host fails", async () => {
    const request = new analyzer.AnalyzeRequest();
    request.setType(CONTAINER);
    request.setName("metamcp-container");
    request.setUrn(urnOf("prod", CONTAINER, "metamcp-container"));
    request.setProperties(Struct.fromJavaScript(containerProps("app", "prod")));
    request.setOptions(options());
    request.setProvider(dockerProvider("tcp://10.0.0.5:2375"));
    const diagnostics = diagnosticsOf(await call("analyze", request));
    expect(diagnostics.map((d) => d.policy)).toEqual(["docker-host-encrypted"]);
  });

  it("runs in a first preview, skipping only what is unknown (no \"can't run during preview\")", async () => {
    // How the engine marshals a value not known yet (Go's plugin.UnknownStringValue). A stack
    // that is not production: production's own rules (slices) are not what this test is about.
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const props = { ...containerProps("app", "staging"), image: unknown };
    const request = new analyzer.AnalyzeRequest();
    request.setType(CONTAINER);
    request.setName("metamcp-container");
    request.setUrn(urnOf("staging", CONTAINER, "metamcp-container"));
    request.setProperties(Struct.fromJavaScript(props));
    request.setOptions(options());
    request.setProvider(dockerProvider());
    const container = stackResource(CONTAINER, "metamcp-container", props, { provider: dockerProvider(), stack: "staging" });
    const pids = stackResource(PIDS_LIMIT, "metamcp-pids", { dockerHost: DOCKER_HOST, containerId: unknown, limit: 100 }, {
      propertyDependencies: { containerId: [container.getUrn()] },
      stack: "staging",
    });
    const stack = new analyzer.AnalyzeStackRequest();
    stack.setResourcesList([container, pids]);
    expect({
      resource: diagnosticsOf(await call("analyze", request)),
      stack: diagnosticsOf(await call("analyzeStack", stack)),
    }).toEqual({ resource: [], stack: [] });
  });

  it("reads a stack's production label off the wire: staging labelled production has its image at latest refused, on the image; unlabelled, not", async () => {
    const image = stackResource(REMOTE_IMAGE, "metamcp-image", { name: "ghcr.io/metatool-ai/metamcp:latest", keepLocally: true }, { stack: "staging" });
    const judge = async (labels: unknown[]) => {
      const props = { ...containerProps("app", "staging"), labels };
      const request = new analyzer.AnalyzeStackRequest();
      request.setResourcesList([stackResource(CONTAINER, "metamcp-container", props, { provider: dockerProvider(), stack: "staging" }), image]);
      const response = await call<any>("analyzeStack", request);
      return response
        .getDiagnosticsList()
        .filter((d: any) => d.getPolicyname() === "prod-images-pinned")
        .map((d: any) => ({ message: d.getMessage(), urn: d.getUrn() }));
    };
    const unlabelled = containerProps("app", "staging").labels as unknown[];
    expect({
      labelled: await judge([...unlabelled, { label: "metamcp-guard.production", value: "true" }]),
      unlabelled: await judge(unlabelled),
    }).toEqual({
      labelled: [{ message: expect.stringContaining("ghcr.io/metatool-ai/metamcp:latest uses the tag latest; pin it by digest or an explicit version tag in staging."), urn: image.getUrn() }],
      unlabelled: [],
    });
  });

  // Last: the configuration stays with the server for the tests after it.
  it("takes policy config the way the CLI sends --policy-pack-config: a tighter PID range", async () => {
    const configure = new analyzer.ConfigureAnalyzerRequest();
    const pidsConfig = new analyzer.PolicyConfig();
    pidsConfig.setEnforcementlevel(analyzer.EnforcementLevel.MANDATORY);
    pidsConfig.setProperties(Struct.fromJavaScript({ maximum: 50 }));
    configure.getPolicyconfigMap().set("container-pids-limit", pidsConfig);
    await call("configure", configure);
    const request = new analyzer.AnalyzeStackRequest();
    request.setResourcesList(cappedContainer("capped", "app"));
    const diagnostics = diagnosticsOf(await call("analyzeStack", request));
    expect(diagnostics.filter((d) => d.policy === "container-pids-limit").map((d) => d.message)).toEqual([
      expect.stringContaining("caps capped (metamcp-prod) at 100 PIDs; allowed: 8 to 50"),
    ]);
  });
});
