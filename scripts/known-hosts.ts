/**
 * npm run known-hosts -- <stack> [--stack-file <Pulumi.<stack>.yaml>]
 *
 * Prints the known_hosts lines that pin the stack's host.ssh.hostKey to the names the stack reaches its
 * Docker host by (host.ssh.host, and an ssh:// dockerHost's host), one per line, nothing for a stack without
 * SSH. The CI action (.github/actions/docker-host-ssh) writes them to the runner's known_hosts, so every ssh
 * there checks the same pinned key as the program itself. Exit 1 when the stack uses SSH without a pin.
 */
import { join } from "node:path";
import { ConfigError } from "../infra/config";
import { pinnedKnownHostsLines } from "../infra/config/schema/host";
import { describeConfigError } from "../infra/verify/report";
import { readStackConfig } from "../infra/verify/stackFile";

const USAGE = "usage: npm run known-hosts -- <stack> [--stack-file <Pulumi.<stack>.yaml>]";

function main(argv: readonly string[]): number {
  let stack: string | undefined;
  let stackFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else if (arg === "--stack-file" && argv[i + 1] !== undefined) stackFile = argv[++i];
    else if (!arg.startsWith("-") && stack === undefined) stack = arg;
    else {
      process.stderr.write(`known-hosts: unexpected argument ${arg}\n${USAGE}\n`);
      return 2;
    }
  }
  if (stack === undefined) {
    process.stderr.write(`known-hosts: name the stack\n${USAGE}\n`);
    return 2;
  }
  try {
    const config = readStackConfig(stack, { projectDir: join(__dirname, ".."), configFile: stackFile });
    for (const line of pinnedKnownHostsLines(config)) process.stdout.write(`${line}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`known-hosts: ${error instanceof ConfigError ? describeConfigError(error) : (error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
