/** The CLI's arguments (the runs themselves are in engine.test.ts). */
import { describe, expect, it } from "vitest";
import { parseCliArgs } from "../../scripts/verify";

describe("parseCliArgs", () => {
  it("a stack and every option", () => {
    expect(parseCliArgs(["prod", "--host", "ssh://admin@h", "--identity", "k", "--config-file", "f.yaml", "--json"])).toEqual({
      stack: "prod",
      dockerHost: "ssh://admin@h",
      identity: "k",
      configFile: "f.yaml",
      json: true,
    });
  });

  it("--stack-file is the same as --config-file (the name verify-host uses)", () => {
    expect(parseCliArgs(["dev", "--stack-file", "x.yaml"])).toMatchObject({ configFile: "x.yaml" });
  });

  it("help", () => {
    expect(parseCliArgs(["--help"])).toBe("help");
  });

  it.each([
    [[], /name the stack to verify/],
    [["dev", "prod"], /one stack at a time \(got dev and prod\)/],
    [["dev", "--host"], /--host needs a value/],
    [["dev", "--host", "--json"], /--host needs a value/],
    [["dev", "--verbose"], /unknown option --verbose/],
  ])("%j is refused", (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});
