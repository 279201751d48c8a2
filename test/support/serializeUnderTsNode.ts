/**
 * Loaded under ts-node by registerTsNodeLikePulumi.js (CommonJS, as Pulumi loads the program). Declares one of our
 * dynamic resources under Pulumi mocks, so its provider is serialized by @pulumi/pulumi/dynamic itself, and writes
 * the serialized `__provider` text to the file named in argv[3]. argv[4] names the resource: `PidsLimit` (the
 * default), `MetaMcpSettings` or `PostgresCredentials`. Prints a JSON summary on stdout.
 */
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";

/** Each resource: how to declare one, and the module its provider lives in (to prove it was loaded as CommonJS). */
const RESOURCES: Record<string, { providerModule: string; declare(): Promise<pulumi.Resource> }> = {
  PidsLimit: {
    providerModule: "/infra/pidsLimit/provider.ts",
    async declare() {
      // Imported after setMocks, as a program would be loaded after the engine connects.
      const { PidsLimit } = await import("../../infra/pidsLimit");
      return new PidsLimit("probe", {
        dockerHost: "unix:///var/run/docker.sock",
        containerId: "c",
        limit: 42,
        memory: 64 * 1048576,
        memorySwap: 64 * 1048576,
        running: true,
      });
    },
  },
  MetaMcpSettings: {
    providerModule: "/infra/metamcpSettings/provider.ts",
    async declare() {
      const { MetaMcpSettings } = await import("../../infra/metamcpSettings");
      return new MetaMcpSettings("probe", {
        sessionLifetimeMs: 86_400_000,
        maxAttempts: 3,
        database: { dockerHost: "unix:///var/run/docker.sock", containerId: "c", user: "u", database: "d" },
      });
    },
  },
  PostgresCredentials: {
    providerModule: "/infra/postgresCredentials/provider.ts",
    async declare() {
      const { PostgresCredentials } = await import("../../infra/postgresCredentials");
      return new PostgresCredentials("probe", {
        dockerHost: "unix:///var/run/docker.sock",
        containerId: "c",
        user: "u",
        database: "d",
        password: "probe-password-never-serialized",
        acceptRename: false,
        postgresContainer: "p",
        metamcpContainer: "m",
      });
    },
  },
};

async function main(out: string, kind: string): Promise<void> {
  const resource = RESOURCES[kind];
  if (!resource) throw new Error(`unknown resource ${JSON.stringify(kind)}; known: ${Object.keys(RESOURCES).join(", ")}`);
  let serialized: string | undefined;
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        if (args.name === "probe") serialized = args.inputs.__provider;
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "metamcp-guard",
    "tsnode",
  );
  const res = await resource.declare();
  await new Promise<void>((resolve) => res.urn.apply(() => resolve()));
  if (typeof serialized !== "string") throw new Error("no __provider input was registered");
  fs.writeFileSync(out, serialized);
  const providerModule = Object.keys(require.cache).find((p) => p.endsWith(resource.providerModule));
  console.log(JSON.stringify({ commonjs: typeof module === "object" && providerModule !== undefined, bytes: serialized.length }));
}

main(process.argv[3], process.argv[4] ?? "PidsLimit").catch((err) => {
  console.error(err);
  process.exit(1);
});
