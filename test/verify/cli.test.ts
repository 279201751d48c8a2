/** What `npm run verify` says when it cannot compare. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config";
import { describeFailure } from "../../scripts/verify";

describe("verify's failure messages", () => {
  it("a stack file the program would refuse: its problems, and no claim about deploying", () => {
    const message = describeFailure(new ConfigError("dev", ["metamcp-guard:app.port 0 is not a whole number from 1 to 65535"]));
    expect(message).toBe(
      'stack "dev" has 1 config problem (pulumi up would refuse it); nothing was compared:\n' +
        "  - metamcp-guard:app.port 0 is not a whole number from 1 to 65535",
    );
  });
});
