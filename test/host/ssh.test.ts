import { describe, expect, it } from "vitest";
import { describeSshFailure, knownHostsLine, sshArgs } from "../../infra/host/ssh";

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
  it("names a host key that does not match the pinned one", () => {
    expect(fail("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.")).toMatch(/does not match host.ssh.hostKey/);
  });
  it("leaves failures of the remote command itself alone", () => {
    expect(describeSshFailure(target, { code: 1, stdout: "", stderr: "boom" })).toBeUndefined();
  });
});

describe("ssh arguments", () => {
  it("pin the host key when there is one and never use an agent or other keys", () => {
    const args = sshArgs({ ...target, hostKey: "ssh-ed25519 AAAA" }, "/k", "/kh");
    expect(args).toEqual(expect.arrayContaining(["BatchMode=yes", "IdentitiesOnly=yes", "IdentityAgent=none", "StrictHostKeyChecking=yes", "UserKnownHostsFile=/kh"]));
    expect(args.slice(-2)).toEqual(["h.example", "--"]);
    expect(knownHostsLine(target, "ssh-ed25519 AAAA")).toBe("[h.example]:2222 ssh-ed25519 AAAA\n");
    expect(knownHostsLine({ ...target, port: 22 }, "ssh-ed25519 AAAA")).toBe("h.example ssh-ed25519 AAAA\n");
  });
});
