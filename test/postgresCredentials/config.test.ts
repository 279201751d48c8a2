/** The stack file's side of PostgresCredentials: the password's characters, and database.acceptRename. */
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../infra/config";
import { rawStackConfig } from "../support/stackFiles";

function parse(overrides: Record<string, unknown>) {
  return parseStackConfig(rawStackConfig("dev", overrides));
}

function problemsOf(overrides: Record<string, unknown>): string[] {
  try {
    parse(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("the config was accepted");
}

describe("postgresPassword", () => {
  it("is refused when PostgreSQL would normalise its characters, naming the key and never the value", () => {
    expect(problemsOf({ "metamcp-guard:postgresPassword": "geheimnis-übergroß" })).toEqual([
      expect.stringMatching(/^metamcp-guard:postgresPassword holds characters outside printable ASCII .*openssl rand -hex 24/),
    ]);
  });

  it("never repeats the value", () => {
    expect(problemsOf({ "metamcp-guard:postgresPassword": "geheimnis-übergroß" }).join("\n")).not.toContain("geheimnis");
  });

  it("is accepted with any printable ASCII", () => {
    expect(() => parse({ "metamcp-guard:postgresPassword": `p@ss w0rd'"\\%:/?#~` })).not.toThrow();
  });
});

describe("database.acceptRename", () => {
  it("is false unless the stack file says so", () => {
    expect(parse({}).config.database.acceptRename).toBe(false);
  });

  it("is read from the stack file", () => {
    expect(parse({ "metamcp-guard:database": { acceptRename: true } }).config.database.acceptRename).toBe(true);
  });

  it("is a flag: anything else is refused with the key", () => {
    expect(problemsOf({ "metamcp-guard:database": { acceptRename: "sure" } })).toEqual([expect.stringMatching(/^metamcp-guard:database\.acceptRename /)]);
  });

  it("left on, draws a warning: it is for the one update after a rename", () => {
    expect(parse({ "metamcp-guard:database": { acceptRename: true } }).warnings).toContain(
      "metamcp-guard:database.acceptRename is true: a change of database.user or database.name is not refused; set it back to false after the rename",
    );
  });

  it("off, draws no warning", () => {
    expect(parse({}).warnings.filter((w) => w.includes("acceptRename"))).toEqual([]);
  });
});
