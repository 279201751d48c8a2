#!/usr/bin/env node
/**
 * Runs infra/index.ts the way `pulumi up` does, but against Pulumi mocks: config arrives in
 * PULUMI_CONFIG, and the SDK's own program runner (@pulumi/pulumi/cmd/run) changes directory
 * to infra/, registers ts-node from there, and requires the entry file. Prints one JSON line:
 * { resources: [{ type, name }], error? }. What the runner logs for a program error goes to stderr
 * as `error: [runtime] <message>` (there is no engine under mocks): that message is what the
 * Pulumi CLI would print, and what tests assert on.
 *
 * Usage: node runLikePulumi.js <repo root> <stack> (config JSON and secret keys in env:
 * PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS).
 */
const path = require("node:path");

const [repoRoot, stack] = process.argv.slice(2);
process.env.PULUMI_NODEJS_TYPESCRIPT = "true";

// Resolve @pulumi/pulumi from the repo, as the program will, so both share one SDK instance.
const pulumi = require(require.resolve("@pulumi/pulumi", { paths: [repoRoot] }));
// run.js requires its folder's index.js only for an exit-code constant; that index.js is the CLI
// entry point and would parse our argv, so stand in for it before loading run.js.
const runIndex = require.resolve("@pulumi/pulumi/cmd/run", { paths: [repoRoot] });
require.cache[runIndex] = { id: runIndex, filename: runIndex, loaded: true, exports: { nodeJSProcessExitedAfterLoggingUserActionableMessage: 32 } };
const { run } = require(require.resolve("@pulumi/pulumi/cmd/run/run", { paths: [repoRoot] }));
const settings = require(require.resolve("@pulumi/pulumi/runtime/settings", { paths: [repoRoot] }));

const resources = [];
let reported;

function finish(error) {
  process.stdout.write(JSON.stringify({ resources, error }) + "\n");
  process.exit(error ? 1 : 0);
}

async function main() {
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        resources.push({ type, name });
        return { id: `${name}-id`, state: { ...inputs, imageId: `sha256:${name}` } };
      },
      call: ({ inputs }) => inputs,
    },
    "metamcp-guard",
    stack,
    false,
  );
  // As cmd/run/index.js does: the program's error is left unhandled, so the runner's own
  // unhandled-rejection handler logs it the way the CLI shows it.
  run(
    { _: ["./index.ts"], pwd: path.join(repoRoot, "infra") },
    () => {},
    (err) => (reported = err),
    (err) => err === reported,
  ).then(async () => {
    await settings.waitForRPCs();
    finish(reported && String(reported.message || reported));
  });
}

// The runner reports program errors through its own process handlers, registered after these:
// let them log first, then print our line.
const later = (err) => setImmediate(() => finish(String(err && err.message ? err.message : err)));
process.on("uncaughtException", later);
process.on("unhandledRejection", later);
main().catch((err) => finish(String(err && err.message ? err.message : err)));
