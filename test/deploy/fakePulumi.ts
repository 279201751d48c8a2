/**
 * A fake `pulumi` CLI for testing scripts that drive it: it records every call (argv and,
 * for `config set`, what arrived on stdin) and keeps just enough state (stacks, config keys)
 * in a folder to answer `stack select` and `config get` as the real one would.
 *
 * `preview` exits with FAKE_PULUMI_PREVIEW_EXIT (default 0) after printing
 * FAKE_PULUMI_PREVIEW_OUTPUT to stdout and FAKE_PULUMI_PREVIEW_ERROR to stderr, so scripts can be
 * shown a clean preview, a drift (7, or 255 with the older CLIs' message) or a failure.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

export interface FakePulumiCall {
  argv: string[];
  stdin: string;
  env: { PULUMI_BACKEND_URL?: string; PULUMI_CONFIG_PASSPHRASE_FILE?: string };
}

const SCRIPT = `#!/usr/bin/env node
const fs = require("fs"), path = require("path");
const state = process.env.FAKE_PULUMI_STATE;
const argv = process.argv.slice(2);
const stdin = argv[0] === "config" && argv[1] === "set" ? fs.readFileSync(0, "utf8") : "";
fs.appendFileSync(path.join(state, "calls.jsonl"), JSON.stringify({ argv, stdin, env: {
  PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL,
  PULUMI_CONFIG_PASSPHRASE_FILE: process.env.PULUMI_CONFIG_PASSPHRASE_FILE,
} }) + "\\n");
const has = (name) => fs.existsSync(path.join(state, name));
const put = (name, text) => fs.writeFileSync(path.join(state, name), text);
const keyOf = () => argv.filter((a) => !a.startsWith("--"))[2];
if (argv[0] === "preview") {
  process.stdout.write(process.env.FAKE_PULUMI_PREVIEW_OUTPUT || "");
  process.stderr.write(process.env.FAKE_PULUMI_PREVIEW_ERROR || "");
  process.exit(Number(process.env.FAKE_PULUMI_PREVIEW_EXIT || 0));
}
switch (argv[0] + " " + (argv[1] || "")) {
  case "whoami ": process.exit(Number(process.env.FAKE_PULUMI_WHOAMI_EXIT || 1));
  case "stack select": process.exit(has("stack-" + argv[2]) ? 0 : 255);
  case "stack init": put("stack-" + argv[2], ""); process.exit(0);
  case "config get": if (!has("config-" + keyOf())) process.exit(255); process.stdout.write(fs.readFileSync(path.join(state, "config-" + keyOf()))); process.exit(0);
  case "config set": put("config-" + keyOf(), stdin); process.exit(0);
  default: process.exit(0);
}
`;

export class FakePulumi {
  readonly binDir: string;
  readonly stateDir: string;

  constructor(root: string) {
    this.binDir = join(root, "bin");
    this.stateDir = join(root, "state");
    mkdirSync(this.binDir, { recursive: true });
    mkdirSync(this.stateDir, { recursive: true });
    writeFileSync(join(this.binDir, "pulumi"), SCRIPT);
    chmodSync(join(this.binDir, "pulumi"), 0o755);
  }

  /** Makes the fake believe a stack or a config key already exists. */
  seed(file: `stack-${string}` | `config-${string}`, content = "existing"): void {
    writeFileSync(join(this.stateDir, file), content);
  }

  calls(): FakePulumiCall[] {
    const log = join(this.stateDir, "calls.jsonl");
    if (!existsSync(log)) return [];
    return readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line));
  }

  /** The calls as command lines, e.g. "stack init dev". */
  commands(): string[] {
    return this.calls().map((c) => c.argv.join(" "));
  }
}
