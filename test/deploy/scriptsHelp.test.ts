/** Every script answers --help with what it does, and does nothing else. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/stackFiles";

describe("--help", () => {
  it.each([
    ["scripts/start-docker.sh", /^Make a Docker engine answer on this machine/],
    ["scripts/start-postgres.sh", /^A PostgreSQL server on 127\.0\.0\.1 for the tests/],
  ])("%s prints its description and exits 0", (script, description) => {
    const result = spawnSync("bash", [join(REPO_ROOT, script), "--help"], { encoding: "utf8" });
    expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 0, stdout: expect.stringMatching(description) });
  });
});
