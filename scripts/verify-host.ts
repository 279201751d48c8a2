/**
 * npm run verify-host -- <stack> [--identity <private key file>] [--stack-file <Pulumi.<stack>.yaml>]
 *
 * Reads over SSH the host slices' values in force and the kernel's limits on each of the stack's
 * containers (memory.max, memory.swap.max, pids.max, cpu.max of its cgroup), and reports every
 * difference from the stack's config. `remote.Command` has no read, so this is how edits made on the
 * host are seen; the containers' cgroups show what a `daemon-reload` or a hand edit did under Docker.
 * Exit codes: 0 the host matches, 1 it differs, 2 the check could not run.
 *
 * The SSH key is the stack's `sshPrivateKey` secret (read with `pulumi config get`), or the
 * file given with --identity. Settings come from the stack file (infra/verify/stackFile.ts).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDriftReport } from "../infra/host/drift";
import { checkContainerKernels, checkHostDrift, formatContainerKernels } from "../infra/host/verify";
import { readStackConfig } from "../infra/verify/stackFile";

interface Options {
  stack: string;
  identity?: string;
  stackFile?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Partial<Options> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--identity") options.identity = argv[++i];
    else if (arg === "--stack-file") options.stackFile = argv[++i];
    else if (!arg.startsWith("-") && !options.stack) options.stack = arg;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!options.stack) throw new Error("usage: npm run verify-host -- <stack> [--identity <key file>] [--stack-file <file>]");
  return options as Options;
}

function privateKey(options: Options): string {
  if (options.identity) return readFileSync(options.identity, "utf8");
  try {
    return execFileSync("pulumi", ["config", "get", "sshPrivateKey", "--stack", options.stack], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === "ENOENT" ? "the pulumi CLI is not on PATH" : (e.stderr ?? e.message).trim();
    throw new Error(`cannot read the stack's sshPrivateKey (${why}); pass --identity <private key file> instead`);
  }
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  // The same reader and parser as `npm run verify`: the settings as the stack file says them.
  const settings = readStackConfig(options.stack, { projectDir: join(__dirname, ".."), configFile: options.stackFile });
  if (!settings.host.ssh) {
    console.log(`stack ${options.stack}: host.ssh is not set; nothing to check over SSH (npm run verify reads the containers' kernel limits through the engine)`);
    return 0;
  }
  const key = privateKey(options);
  const where = `${settings.host.ssh.host} (stack ${options.stack})`;
  let drifts = 0;
  if (settings.host.slices.enabled) {
    const slices = await checkHostDrift(settings, key);
    console.log(formatDriftReport(where, slices));
    drifts += slices.drifts.length;
  } else {
    console.log(`${where}: host.slices.enabled is false; no slices to check`);
  }
  const containers = await checkContainerKernels(settings, key);
  console.log(formatContainerKernels(where, containers));
  drifts += containers.drifts.length;
  return drifts === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`verify-host: ${err.message}`);
    process.exit(2);
  },
);
