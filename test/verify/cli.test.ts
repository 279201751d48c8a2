/** What `npm run verify` says when it cannot compare. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config";
import { pinFor, StackFileError, verifyStack } from "../../infra/verify";
import { readStackConfig } from "../../infra/verify/stackFile";
import { describeFailure, parseCliArgs } from "../../scripts/verify";
import { REPO_ROOT, TEST_HOST_KEY } from "../support/stackFiles";

describe("verify's failure messages", () => {
  it("a stack file the program would refuse: its problems, and no claim about deploying", () => {
    const message = describeFailure(new ConfigError("dev", ["metamcp-guard:app.port 0 is not a whole number from 1 to 65535"]));
    expect(message).toBe(
      'stack "dev" has 1 config problem (pulumi up would refuse it); nothing was compared:\n' +
        "  - metamcp-guard:app.port 0 is not a whole number from 1 to 65535",
    );
  });
});

describe("verify over ssh:// checks the stack's pinned host key (issue 12)", () => {
  const prod = readStackConfig("prod", { projectDir: REPO_ROOT });
  const dev = readStackConfig("dev", { projectDir: REPO_ROOT });

  it("takes the stack's host.ssh.hostKey, or --host-key instead", () => {
    expect(pinFor(prod, {})).toBe(prod.host.ssh!.hostKey);
    expect(pinFor(dev, { hostKey: TEST_HOST_KEY })).toBe(TEST_HOST_KEY);
    expect(parseCliArgs(["dev", "--host", "ssh://admin@h", "--host-key", TEST_HOST_KEY])).toMatchObject({ dockerHost: "ssh://admin@h", hostKey: TEST_HOST_KEY });
  });

  it("refuses to trust a host without a pin, and a --host-key that is not one", () => {
    expect(() => pinFor(dev, {})).toThrow(StackFileError);
    expect(() => pinFor(dev, {})).toThrow(/stack "dev" pins no SSH host key \(host.ssh.hostKey\).*pass --host-key "<type> <base64>" \(get it with ssh-keyscan -t ed25519 <host>/);
    expect(() => pinFor(prod, { hostKey: "SHA256:abc" })).toThrow(/^--host-key "SHA256:abc" is not an SSH public host key/);
  });

  it("refuses an ssh:// engine for a stack that pins nothing, before any connection", async () => {
    await expect(verifyStack({ stack: "dev", projectDir: REPO_ROOT, dockerHost: "ssh://admin@203.0.113.1" })).rejects.toThrow(/pins no SSH host key/);
  });
});
