/**
 * The one pinned host key on every SSH path our own code runs (issue 12): the known_hosts file holds that
 * key and nothing else, ssh is told to accept no other, and the file is gone once ssh has run, whichever way
 * it ended. The `ssh` here is a stand-in on PATH that records what it was given and refuses the host, as a
 * real ssh does when the key differs; the real sshd cases are in test/pidsLimit/ssh.test.ts.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dockerRequest } from "../../infra/dockerEngine/transport";
import { livePrivateTempDirs } from "../../infra/privateTempDir";
import { dockerProviderSshOpts, hostKeyProblem, pinnedKnownHosts, writePinnedKnownHosts } from "../../infra/sshPin";
import { sshShell } from "../../infra/verify/hostFiles";
import { expectNoTempDirsLeft } from "../support/tempDirs";
import { TEST_HOST_KEY } from "../support/stackFiles";

describe("the pin's form", () => {
  it.each([
    ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq", undefined],
    ["ecdsa-sha2-nistp256 AAAAE2VjZHNh=", undefined],
    ["ssh-ed25519 AAAA\n* ssh-ed25519 BBBB", "not an SSH public host key"],
    ["ssh-ed25519 AAAA %H", "not an SSH public host key"],
    ["host.example ssh-ed25519 AAAA", "not an SSH public host key"],
    ["", "not an SSH public host key"],
    [42, "not an SSH public host key"],
  ])("%j", (key, problem) => {
    const found = hostKeyProblem(key);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it("known_hosts trusts that key for whatever name ssh looks up, and nothing else", () => {
    expect(pinnedKnownHosts(TEST_HOST_KEY)).toBe(`* ${TEST_HOST_KEY}\n`);
    expect(() => pinnedKnownHosts(`${TEST_HOST_KEY}\n* ssh-rsa AAAA`)).toThrow(/not an SSH public host key/);
  });

  it("the Docker provider's ssh gets the pin through a KnownHostsCommand, strict, with no known_hosts file", () => {
    expect(dockerProviderSshOpts(TEST_HOST_KEY)).toEqual([
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", "UserKnownHostsFile=/dev/null",
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "CheckHostIP=no",
      "-o", `KnownHostsCommand=/bin/echo %H ${TEST_HOST_KEY}`,
    ]);
  });

  it("writes the file private, and removes it", () => {
    const pin = writePinnedKnownHosts(TEST_HOST_KEY);
    const file = pin.args[pin.args.indexOf("-o", 2) + 1].replace(/^UserKnownHostsFile=/, "");
    expect({ text: readFileSync(file, "utf8"), mode: statSync(file).mode & 0o777, dir: statSync(join(file, "..")).mode & 0o777 }).toEqual({
      text: `* ${TEST_HOST_KEY}\n`,
      mode: 0o600,
      dir: 0o700,
    });
    pin.remove();
    expect(existsSync(join(file, ".."))).toBe(false);
    expect(livePrivateTempDirs()).toEqual([]);
  });
});

describe("ssh runs of our own code, against a stand-in ssh", () => {
  expectNoTempDirsLeft("metamcp-guard-known-hosts-");
  let bin: string;
  let savedPath: string | undefined;
  const record = () => join(bin, "record");

  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), "fake-ssh-"));
    // Records its argv (one per line) and the known_hosts file it was given, then refuses the host.
    writeFileSync(
      join(bin, "ssh"),
      [
        "#!/bin/sh",
        `out=${JSON.stringify(join(bin, "record"))}`,
        'printf "%s\\n" "$@" > "$out.args"',
        'for a in "$@"; do case "$a" in UserKnownHostsFile=*) f=${a#UserKnownHostsFile=}; echo "$f" > "$out.file"; cat "$f" > "$out.known" ;; esac; done',
        'echo "Host key verification failed." >&2',
        "exit 255",
        "",
      ].join("\n"),
    );
    chmodSync(join(bin, "ssh"), 0o755);
    savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${process.env.PATH}`;
  });
  afterAll(() => {
    process.env.PATH = savedPath;
    rmSync(bin, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const suffix of [".args", ".file", ".known"]) rmSync(`${record()}${suffix}`, { force: true });
  });

  const seen = () => ({
    args: readFileSync(`${record()}.args`, "utf8").trim().split("\n"),
    known: readFileSync(`${record()}.known`, "utf8"),
    file: readFileSync(`${record()}.file`, "utf8").trim(),
  });

  it("PidsLimit's and MetaMcpSettings' transport: the pinned key only, strict, and the file gone afterwards", async () => {
    const err = await dockerRequest("ssh://deploy@docker.example.internal:2200", "GET", "/version", undefined, { hostKey: TEST_HOST_KEY, timeoutMs: 5_000 }).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe("UNREACHABLE");
    expect(err?.message).toMatch(/ssh said: Host key verification failed/);
    const { args, known, file } = seen();
    expect(known).toBe(`* ${TEST_HOST_KEY}\n`);
    expect(args).toEqual(expect.arrayContaining(["StrictHostKeyChecking=yes", "GlobalKnownHostsFile=/dev/null", "BatchMode=yes"]));
    expect(args.slice(args.indexOf("--"))).toEqual(["--", "deploy@docker.example.internal", "docker", "system", "dial-stdio"]);
    expect(existsSync(file)).toBe(false);
    expect(livePrivateTempDirs()).toEqual([]);
  });

  it("verify's file reads over ssh: the same pin, and the file gone afterwards", async () => {
    const run = sshShell({ kind: "ssh", host: "docker.example.internal", user: "deploy" }, { hostKey: TEST_HOST_KEY });
    const result = await run("cat /proc/1/cgroup");
    expect(result.code).toBe(255);
    const { args, known, file } = seen();
    expect({ known, strict: args.includes("StrictHostKeyChecking=yes"), left: existsSync(file) }).toEqual({ known: `* ${TEST_HOST_KEY}\n`, strict: true, left: false });
    expect(livePrivateTempDirs()).toEqual([]);
  });

  it("without a pin, writes no file and leaves ssh to the user's own known_hosts", async () => {
    await dockerRequest("ssh://deploy@h", "GET", "/version", undefined, { timeoutMs: 5_000 }).catch(() => undefined);
    expect(readFileSync(`${record()}.args`, "utf8")).not.toMatch(/UserKnownHostsFile|StrictHostKeyChecking=no|accept-new/);
    expect(livePrivateTempDirs()).toEqual([]);
  });
});
