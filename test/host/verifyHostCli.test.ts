/**
 * `npm run verify-host` as people run it (issue 13): --help answers with the usage, every option is
 * checked with a message that says what is wrong, a stack that pins no host key is refused before any key
 * is read, and Ctrl-C while ssh runs leaves no temporary key file behind. The ssh here is a stand-in on
 * PATH (a real systemd host runs the checks in systemdHost.test.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../../scripts/cliArgs";
import { parseVerifyHostArgs } from "../../scripts/verify-host";
import { REPO_ROOT, TEST_HOST_KEY } from "../support/stackFiles";
import { expectNoTempDirsLeft } from "../support/tempDirs";

const TS_NODE = join(REPO_ROOT, "node_modules", ".bin", "ts-node");
const SCRIPT = join(REPO_ROOT, "scripts", "verify-host.ts");

describe("verify-host's arguments", () => {
  it.each<[string[], ReturnType<typeof parseVerifyHostArgs>]>([
    [["--help"], "help"],
    [["-h"], "help"],
    [["prod", "--help"], "help"],
    [["prod"], { stack: "prod" }],
    [["prod", "--identity", "/k", "--stack-file", "/f.yaml"], { stack: "prod", identity: "/k", stackFile: "/f.yaml" }],
    [["--config-file", "/f.yaml", "prod"], { stack: "prod", stackFile: "/f.yaml" }],
  ])("%j", (argv, parsed) => {
    expect(parseVerifyHostArgs(argv)).toEqual(parsed);
  });

  it.each([
    [[], "name the stack to check, e.g. npm run verify-host -- prod"],
    [["prod", "--identity"], "--identity needs a value"],
    [["prod", "--identity", "--stack-file", "f"], "--identity needs a value"],
    [["prod", "--identity", "-h"], "--identity needs a value"],
    [["prod", "--stack-file"], "--stack-file needs a value"],
    [["prod", "--verbose"], "unknown option --verbose"],
    [["prod", "dev"], "one stack at a time (got prod and dev)"],
    [["pr od"], '"pr od" is not a stack name'],
  ])("refuses %j", (argv, message) => {
    expect(() => parseVerifyHostArgs(argv)).toThrow(UsageError);
    expect(() => parseVerifyHostArgs(argv)).toThrow(message);
  });
});

describe("verify-host, run", () => {
  expectNoTempDirsLeft("metamcp-guard-ssh-");
  let dir: string;
  let stackFile: string;
  let keyFile: string;
  const record = () => join(dir, "ssh-args");
  const env = () => ({ ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "verify-host-cli-"));
    stackFile = join(dir, "Pulumi.clitest.yaml");
    keyFile = join(dir, "id");
    writeFileSync(keyFile, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
    const hostSettings = (hostKey: string) =>
      [
        "config:",
        "  metamcp-guard:app:",
        "    limits: { memory: 2g, memorySwap: 2g, cpus: 1 }",
        "  metamcp-guard:host:",
        "    slices: { enabled: true }",
        `    ssh: { host: 127.0.0.1, port: 2222, user: root${hostKey} }`,
        "",
      ].join("\n");
    writeFileSync(stackFile, hostSettings(`, hostKey: "${TEST_HOST_KEY}"`));
    writeFileSync(join(dir, "Pulumi.nopin.yaml"), hostSettings(""));
    // An ssh that says what it was given, then hangs as one waiting on a slow host would.
    const bin = join(dir, "bin");
    spawnSync("mkdir", [bin]);
    writeFileSync(join(bin, "ssh"), `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(join(dir, "ssh-args"))}\nexec sleep 30\n`);
    chmodSync(join(bin, "ssh"), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cli = (args: string[]) => spawnSync(TS_NODE, ["--transpile-only", SCRIPT, ...args], { cwd: REPO_ROOT, env: env(), encoding: "utf8", timeout: 60_000 });

  it("--help prints the usage and exits 0", () => {
    const result = cli(["--help"]);
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      status: 0,
      stdout: expect.stringMatching(/^usage: npm run verify-host -- <stack> \[--identity <private key file>\][\s\S]*--stack-file F[\s\S]*Exit codes: 0/),
      stderr: "",
    });
  });

  it("an unknown option is refused with the usage, exit 2", () => {
    const result = cli(["clitest", "--frobnicate"]);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 2, stderr: expect.stringMatching(/^verify-host: unknown option --frobnicate\n\nusage: /) });
  });

  it("an --identity that cannot be read is named", () => {
    const result = cli(["clitest", "--stack-file", stackFile, "--identity", join(dir, "missing")]);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 2, stderr: expect.stringContaining(`--identity ${join(dir, "missing")} cannot be read (no such file)`) });
  });

  it("a stack that pins no host key is refused before any key is read or ssh runs", () => {
    rmSync(record(), { force: true });
    const result = cli(["nopin", "--stack-file", join(dir, "Pulumi.nopin.yaml"), "--identity", keyFile]);
    expect({ status: result.status, ssh: existsSync(record()) }).toEqual({ status: 2, ssh: false });
    expect(result.stderr).toMatch(/host.ssh.hostKey is required when host.slices.enabled or host.keeper.enabled is true: .*ssh-keyscan -t ed25519 -p 2222 127.0.0.1/);
    expect(result.stderr).toMatch(/pulumi up would refuse it\); nothing was compared/);
  });

  it("Ctrl-C while ssh runs ends it by SIGINT and leaves no temporary key file", async () => {
    rmSync(record(), { force: true });
    const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith("metamcp-guard-ssh-")));
    // Its own process group, so the signal reaches verify-host and its ssh together, as a terminal's Ctrl-C does.
    const child = spawn(TS_NODE, ["--transpile-only", SCRIPT, "clitest", "--stack-file", stackFile, "--identity", keyFile], {
      cwd: REPO_ROOT,
      env: env(),
      detached: true,
      stdio: "ignore",
    });
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(record()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const args = readFileSync(record(), "utf8").split("\n");
      const key = args[args.indexOf("-i") + 1];
      const knownHosts = args.find((a) => a.startsWith("UserKnownHostsFile="))!.slice("UserKnownHostsFile=".length);
      // While ssh runs: the key and the pinned known_hosts are there, private, holding what they should.
      expect({ key: readFileSync(key, "utf8"), known: readFileSync(knownHosts, "utf8"), strict: args.includes("StrictHostKeyChecking=yes") }).toEqual({
        key: readFileSync(keyFile, "utf8"),
        known: `* ${TEST_HOST_KEY}\n`,
        strict: true,
      });
      process.kill(-child.pid!, "SIGINT");
      expect(await ended).toEqual({ code: null, signal: "SIGINT" });
      expect({ key: existsSync(key), knownHosts: existsSync(knownHosts) }).toEqual({ key: false, knownHosts: false });
      expect(readdirSync(tmpdir()).filter((n) => n.startsWith("metamcp-guard-ssh-") && !before.has(n))).toEqual([]);
    } finally {
      // Whatever happened above: the group this test started, by its id.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 60_000);
});
