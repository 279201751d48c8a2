import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Three projects, so the fast feedback loop stays fast:
 * - "unit": pure functions and the program under Pulumi mocks, in-process (`npm run test:unit`);
 * - "process": suites that run programs in child processes: our scripts against a fake
 *   `pulumi`, the entry file through Pulumi's own runner and ts-node, the policy runner, the
 *   session guard in front of a MetaMCP-like upstream with real stdio MCP servers;
 * - "engine": suites that need a real Docker engine (or a systemd host in one), which is what
 *   declaring them with describeWithDocker means.
 * `npm test` runs all three, one file at a time: the engine suites share one engine on a
 * 2-core machine, and timing-sensitive load tests must not compete with other files.
 */
const PROCESS_SUITES = [
  "test/deploy/",
  "test/workflows/",
  "test/stack/pulumiLoad.test.ts",
  "test/policy/server.test.ts",
  "test/pidsLimit/startDocker.test.ts",
  "test/guard/proxy.test.ts",
  "test/guard/hostileInput.test.ts",
  "test/sshPin/tempDirExits.test.ts",
  "test/host/verifyHostCli.test.ts",
];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

// test/v2host/ runs only against the cgroup v2 VM, with its own config (vitest.v2host.config.mts).
const all = testFiles("test").filter((file) => !file.startsWith(join("test", "v2host")));
/** Engine suites: declared with describeWithDocker, or with describeWithPostgres (a real PostgreSQL server). */
const needsEngine = (file: string) => /describeWith(Docker|Postgres)\(/.test(readFileSync(file, "utf8"));
const runsProcesses = (file: string) => PROCESS_SUITES.some((prefix) => file.startsWith(prefix));

export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        // In-process suites share one module graph per worker: loading @pulumi/pulumi once instead
        // of once per file is most of this project's speed. Each suite sets its own mocks and config.
        test: { name: "unit", include: all.filter((f) => !needsEngine(f) && !runsProcesses(f)), isolate: false },
      },
      { extends: true, test: { name: "process", include: all.filter((f) => !needsEngine(f) && runsProcesses(f)) } },
      { extends: true, test: { name: "engine", include: all.filter(needsEngine) } },
    ],
  },
});
