/** Reading a stack's settings from its stack file, with messages that say what to fix. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config";
import { projectValues, readStackConfig, StackFileError } from "../../infra/verify/stackFile";
import { REPO_ROOT } from "../support/stackFiles";
import { expectNoTempDirsLeft } from "../support/tempDirs";

describe("projectValues", () => {
  it("keeps this project's keys without the prefix, drops other projects' keys and encrypted secrets", () => {
    const document = {
      config: {
        "metamcp-guard:dockerHost": "unix:///var/run/docker.sock",
        "metamcp-guard:app": { limits: { pids: 64 } },
        "metamcp-guard:authSecret": { secure: "v1:AAAA" },
        "docker:host": "tcp://elsewhere:2375",
      },
    };
    expect(projectValues(document)).toEqual({ dockerHost: "unix:///var/run/docker.sock", app: { limits: { pids: 64 } } });
  });

  it("a file without config is empty; a config that is not a mapping is refused", () => {
    expect(projectValues({})).toEqual({});
    expect(() => projectValues({ config: ["a"] })).toThrow(StackFileError);
  });
});

describe("readStackConfig", () => {
  expectNoTempDirsLeft("verify-stackfile-");
  // A test may make several files: every folder is removed after it.
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function tempFile(text: string): string {
    const dir = mkdtempSync(join(tmpdir(), "verify-stackfile-"));
    dirs.push(dir);
    const file = join(dir, "Pulumi.custom.yaml");
    writeFileSync(file, text);
    return file;
  }

  it("reads the real dev stack without its secrets", () => {
    expect(readStackConfig("dev", { projectDir: REPO_ROOT })).toMatchObject({ stack: "dev", namePrefix: "metamcp-dev" });
  });

  it("an unknown stack names the file it looked for and the stacks that exist", () => {
    expect(() => readStackConfig("staging", { projectDir: REPO_ROOT })).toThrow(
      new StackFileError(`unknown stack "staging": there is no ${join(REPO_ROOT, "Pulumi.staging.yaml")}; stacks here: dev, prod`),
    );
  });

  it("--config-file: another file for the stack, which must exist", () => {
    const file = tempFile("config:\n  metamcp-guard:namePrefix: custom-x\n  metamcp-guard:app:\n    capacity: { groups: 1 }\n    limits: { memory: 1g, cpus: 0.5, pids: 80 }\n");
    expect(readStackConfig("ci", { projectDir: REPO_ROOT, configFile: file })).toMatchObject({ stack: "ci", namePrefix: "custom-x" });
    expect(() => readStackConfig("ci", { projectDir: REPO_ROOT, configFile: `${file}.gone` })).toThrow(/config file .*\.gone does not exist/);
  });

  it("broken YAML and settings the program would refuse are errors, not guesses", () => {
    expect(() => readStackConfig("x", { projectDir: REPO_ROOT, configFile: tempFile("config: [unclosed\n") })).toThrow(/is not valid YAML/);
    const bad = tempFile("config:\n  metamcp-guard:app:\n    limits: { memory: 64m, cpus: 0.5, pids: 0 }\n");
    expect(() => readStackConfig("x", { projectDir: REPO_ROOT, configFile: bad })).toThrow(ConfigError);
  });
});
