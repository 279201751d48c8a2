import { describe, expect, it } from "vitest";
import { describeSshFailure, runOverSsh, SshError, sshArgs } from "../../infra/host/ssh";
import { livePrivateTempDirs } from "../../infra/privateTempDir";

const target = { host: "h.example", port: 2222, user: "deploy" };
const fail = (stderr: string) => describeSshFailure(target, { code: 255, stdout: "", stderr });

describe("ssh failures in words", () => {
  it("names a refused key", () => {
    expect(fail("deploy@h.example: Permission denied (publickey).")).toMatch(/cannot log in as deploy@h.example:2222: the server refused the sshPrivateKey/);
  });
  it("names an unreachable host", () => {
    expect(fail("ssh: connect to host h.example port 2222: Connection refused")).toMatch(/cannot reach h.example:2222: connection refused/);
    expect(fail("ssh: connect to host h.example port 2222: Connection timed out")).toMatch(/cannot reach h.example:2222: .*timed out/);
    expect(fail("ssh: Could not resolve hostname h.example: Name or service not known")).toMatch(/cannot resolve h.example/);
  });
  it("names a host key that does not match the pinned one, and how to get the right one", () => {
    expect(fail("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.")).toMatch(
      /does not match host.ssh.hostKey; check it with: ssh-keyscan -t ed25519 -p 2222 h.example/,
    );
  });
  it("leaves failures of the remote command itself alone", () => {
    expect(describeSshFailure(target, { code: 1, stdout: "", stderr: "boom" })).toBeUndefined();
  });
});

describe("ssh arguments", () => {
  it("pin the host key, never use an agent or other keys, and put the host after --", () => {
    const args = sshArgs({ ...target, hostKey: "ssh-ed25519 AAAA" }, "/k", "/kh");
    expect(args).toEqual(
      expect.arrayContaining(["BatchMode=yes", "IdentitiesOnly=yes", "IdentityAgent=none", "StrictHostKeyChecking=yes", "UserKnownHostsFile=/kh", "GlobalKnownHostsFile=/dev/null"]),
    );
    expect(args.join(" ")).not.toMatch(/accept-new|StrictHostKeyChecking=no/);
    expect(args.slice(-2)).toEqual(["--", "h.example"]);
  });

  it("refuse to connect without a pinned key, before writing anything", async () => {
    const err = await runOverSsh(target, "not a key", "true").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect((err as Error).message).toBe(
      "host.ssh.hostKey is not set: every SSH connection checks the host's pinned key; get it with ssh-keyscan -t ed25519 -p 2222 h.example (check its fingerprint with the host's own: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)",
    );
    expect(livePrivateTempDirs()).toEqual([]);
  });
});
