/**
 * npm run verify -- <stack> [--host <docker host>] [--identity <ssh key>] [--config-file <file>] [--json]
 *
 * Compares what the stack's containers have in force on its Docker host with the stack file,
 * independent of Pulumi state. See docs/verify.md.
 * Exit codes: 0 everything in force, 1 a setting differs or a container is missing,
 * 2 verify could not run (usage, unknown stack, bad config, unreachable host).
 */
import { resolve } from "node:path";
import { ConfigError } from "../infra/config";
import { isDockerApiError } from "../infra/pidsLimit/dockerApi";
import { formatJson, formatTable, StackFileError, verifyStack } from "../infra/verify";
import { describeConfigError } from "../infra/verify/report";
import { ArgList, UsageError } from "./cliArgs";

const USAGE = `usage: npm run verify -- <stack> [--host <docker host>] [--identity <ssh key file>] [--host-key <key>] [--config-file <Pulumi.<stack>.yaml>] [--json]

  <stack>          the stack to check, e.g. dev or prod (reads Pulumi.<stack>.yaml)
  --host URL       the Docker engine to ask instead of the stack's dockerHost:
                   unix:///var/run/docker.sock, tcp://host:2375 or ssh://user@host
  --identity FILE  the private key ssh:// uses (else ssh's own config and agent)
  --host-key KEY   the ssh:// host's public key, "ssh-ed25519 AAAA…", instead of the
                   stack's host.ssh.hostKey (ssh accepts that key and no other)
  --config-file F  read the settings from F instead of Pulumi.<stack>.yaml (alias: --stack-file)
  --json           print the report as JSON
Exit codes: 0 all in force, 1 differences or missing containers, 2 could not check.`;

export interface CliOptions {
  stack: string;
  dockerHost?: string;
  configFile?: string;
  /** Private key for ssh:// hosts; without it ssh uses ~/.ssh/config and the agent, as `docker -H ssh://` does. */
  identity?: string;
  /** The ssh:// host's pinned key instead of the stack's host.ssh.hostKey. */
  hostKey?: string;
  json: boolean;
}

/** Parses argv (after the script name); throws UsageError with what is wrong. */
export function parseCliArgs(argv: readonly string[]): CliOptions | "help" {
  const options: Partial<CliOptions> = { json: false };
  const args = new ArgList(argv);
  for (let arg = args.next(); arg !== undefined; arg = args.next()) {
    const value = (): string => args.value(arg!);
    if (arg === "--help" || arg === "-h") return "help";
    else if (arg === "--json") options.json = true;
    else if (arg === "--host") options.dockerHost = value();
    else if (arg === "--config-file" || arg === "--stack-file") options.configFile = value();
    else if (arg === "--identity") options.identity = value();
    else if (arg === "--host-key") options.hostKey = value();
    else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
    else if (options.stack === undefined) options.stack = arg;
    else throw new UsageError(`one stack at a time (got ${options.stack} and ${arg})`);
  }
  if (options.stack === undefined) throw new UsageError("name the stack to verify, e.g. npm run verify -- dev");
  return options as CliOptions;
}

/** Errors verify expects (bad input, no engine) in one line; anything else keeps its stack trace. */
export function describeFailure(error: unknown): string {
  if (error instanceof UsageError) return `${error.message}\n\n${USAGE}`;
  if (error instanceof ConfigError) return describeConfigError(error);
  if (error instanceof StackFileError) return error.message;
  if (isDockerApiError(error, "UNREACHABLE")) return `${error.message}\nIs the engine running, and is the host right? (--host overrides the stack's dockerHost)`;
  if (isDockerApiError(error)) return error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions | "help" | undefined;
  try {
    options = parseCliArgs(argv);
    if (options === "help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const request = options.identity ? { sshArgs: ["-i", options.identity, "-o", "IdentitiesOnly=yes"] } : {};
    const report = await verifyStack({ ...options, projectDir: resolve(__dirname, ".."), request });
    process.stdout.write(options.json ? formatJson(report) : formatTable(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    const message = describeFailure(error);
    process.stderr.write(`verify: ${message}\n`);
    if (typeof options === "object" && options.json) {
      process.stdout.write(JSON.stringify({ stack: options.stack, ok: false, error: message.split("\n")[0] }, null, 2) + "\n");
    }
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
