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
 * file given with --identity; the host's key must be the stack's pinned host.ssh.hostKey. The key
 * reaches ssh through a private temp file that is removed however verify-host ends, Ctrl-C included.
 * Settings come from the stack file (infra/verify/stackFile.ts).
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../infra/config";
import { formatDriftReport } from "../infra/host/drift";
import { SshError } from "../infra/host/ssh";
import { checkContainerKernels, checkHostDrift, formatContainerKernels } from "../infra/host/verify";
import { hostKeyHint } from "../infra/sshPin";
import { StackFileError } from "../infra/verify";
import { describeConfigError } from "../infra/verify/report";
import { readStackConfig } from "../infra/verify/stackFile";
import { ArgList, UsageError } from "./cliArgs";

const USAGE = `usage: npm run verify-host -- <stack> [--identity <private key file>] [--stack-file <Pulumi.<stack>.yaml>]

  <stack>          the stack to check, e.g. prod (reads Pulumi.<stack>.yaml)
  --identity FILE  the private key to log in with (else the stack's sshPrivateKey secret,
                   read with \`pulumi config get\`)
  --stack-file F   read the settings from F instead of Pulumi.<stack>.yaml (alias: --config-file)
  --help           this text
The host's key must be the stack's pinned host.ssh.hostKey; ssh accepts no other.
Exit codes: 0 the host matches the stack, 1 it differs, 2 could not check.`;

export interface VerifyHostOptions {
  stack: string;
  identity?: string;
  stackFile?: string;
}

/** Parses argv (after the script name); throws UsageError saying what is wrong (pure). */
export function parseVerifyHostArgs(argv: readonly string[]): VerifyHostOptions | "help" {
  const options: Partial<VerifyHostOptions> = {};
  const args = new ArgList(argv);
  for (let arg = args.next(); arg !== undefined; arg = args.next()) {
    const value = (): string => args.value(arg!);
    if (arg === "--help" || arg === "-h") return "help";
    else if (arg === "--identity") options.identity = value();
    else if (arg === "--stack-file" || arg === "--config-file") options.stackFile = value();
    else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
    else if (options.stack === undefined) options.stack = arg;
    else throw new UsageError(`one stack at a time (got ${options.stack} and ${arg})`);
  }
  if (options.stack === undefined) throw new UsageError("name the stack to check, e.g. npm run verify-host -- prod");
  if (!/^[A-Za-z0-9_.-]+$/.test(options.stack)) {
    throw new UsageError(`${JSON.stringify(options.stack)} is not a stack name (letters, digits, '_', '.' and '-')`);
  }
  return options as VerifyHostOptions;
}

/** The --identity file, readable, or a UsageError naming it. */
function readIdentity(file: string): string {
  try {
    if (!statSync(file).isFile()) throw new UsageError(`--identity ${file} is not a file`);
    accessSync(file, constants.R_OK);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--identity ${file} cannot be read (${code === "ENOENT" ? "no such file" : code ?? String(error)})`);
  }
  return readFileSync(file, "utf8");
}

function privateKey(options: VerifyHostOptions): string {
  if (options.identity) return readIdentity(options.identity);
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

/** Errors verify-host expects, in words; anything else keeps its stack trace. */
export function describeVerifyHostFailure(error: unknown): string {
  if (error instanceof UsageError) return `${error.message}\n\n${USAGE}`;
  if (error instanceof ConfigError) return describeConfigError(error);
  if (error instanceof StackFileError || error instanceof SshError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

async function check(options: VerifyHostOptions): Promise<number> {
  // The same reader and parser as `npm run verify`: the settings as the stack file says them.
  const settings = readStackConfig(options.stack, { projectDir: join(__dirname, ".."), configFile: options.stackFile });
  const ssh = settings.host.ssh;
  if (!ssh) {
    console.log(`stack ${options.stack}: host.ssh is not set; nothing to check over SSH (npm run verify reads the containers' kernel limits through the engine)`);
    return 0;
  }
  // Before the key is read or written anywhere: without a pin there is no host to trust.
  if (!ssh.hostKey) throw new StackFileError(`stack ${options.stack} sets host.ssh but not host.ssh.hostKey; pin the host's key first: ${hostKeyHint(ssh.host, ssh.port)}`);
  const key = privateKey(options);
  const where = `${ssh.host} (stack ${options.stack})`;
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

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const options = parseVerifyHostArgs(argv);
    if (options === "help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    return await check(options);
  } catch (error) {
    process.stderr.write(`verify-host: ${describeVerifyHostFailure(error)}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
