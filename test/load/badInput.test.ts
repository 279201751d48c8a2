// Bad input end to end: the real program (config loading from the Pulumi runtime, then buildStack) run under
// Pulumi mocks with a broken prod stack file refuses to start, names the key, and declares no resource at
// all: not the Docker provider, not a network, not a container without limits.
// (test/config/badConfigs.test.ts covers the parser's table; this is the same refusal seen from `pulumi up`.)
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config";
import { declareStack, waitForRegistrations } from "../support/mocks";
import { reportFigures } from "./support/guarded";

/** Every resource the mock engine was asked to register since the last setMocks (MockMonitor keeps them). */
async function registeredUrns(): Promise<string[]> {
  await waitForRegistrations();
  const monitor = pulumi.runtime.getMonitor() as unknown as { resources?: Map<string, unknown> };
  if (!(monitor?.resources instanceof Map)) {
    throw new Error("the Pulumi mock monitor no longer keeps its resources in `resources`; update this test");
  }
  return [...monitor.resources.keys()];
}

const BAD_INPUTS: Array<[string, Record<string, unknown>, string, RegExp]> = [
  ["a typo'd key", { "metamcp-guard:app": { limits: { memroy: "4g" } } }, "metamcp-guard:app.limits.memroy", /not a known key/],
  ["swap smaller than memory", { "metamcp-guard:app": { limits: { memorySwap: "2g" } } }, "metamcp-guard:app.limits.memorySwap", /at least memory/],
  ["a PID cap of 0", { "metamcp-guard:app": { limits: { pids: 0 } } }, "metamcp-guard:app.limits.pids", /0 is not a whole number/],
  ["a malformed size", { "metamcp-guard:database": { limits: { memory: "1gb!" } } }, "metamcp-guard:database.limits.memory", /is not a size/],
];

describe("bad input end to end: the program refuses before declaring anything", () => {
  it("control: the unbroken prod stack does declare its resources, so an empty registry below means something", async () => {
    const { resources } = await declareStack("prod");
    const urns = await registeredUrns();
    expect(resources.map((r) => r.name)).toEqual(expect.arrayContaining(["metamcp-container", "metamcp-pids"]));
    expect(urns.length).toBeGreaterThanOrEqual(resources.length);
  });

  it.each(BAD_INPUTS)("%s: refused with the key named, no resource registered", async (label, overrides, key, why) => {
    const error = await declareStack("prod", overrides).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error, "the program accepted the config").toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    const problem = problems.find((p) => p.startsWith(`${key} `));
    expect(problem, `problems were: ${problems.join(" | ")}`).toMatch(why);
    // What `pulumi up` prints starts by saying nothing was deployed.
    expect((error as ConfigError).message).toMatch(/nothing was deployed/);
    const urns = await registeredUrns();
    reportFigures("bad-input", { case: label, key, problems, resourcesRegistered: urns.length });
    expect(urns).toEqual([]);
  });
});
