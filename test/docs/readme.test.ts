/** The README says what the code does: the lists it repeats are the code's own. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MANAGED_ENV } from "../../infra/config/schema/app";
import { derivedPidsLimit, emergencyTasksFor, plannedLoad } from "../../infra/capacity";
import { REPO_ROOT } from "../support/stackFiles";

const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

/** The table row of `key` in the README's settings tables. */
function row(key: string): string {
  const line = README.split("\n").find((l) => l.startsWith(`| \`${key}\` |`));
  if (!line) throw new Error(`no README row for ${key}`);
  return line;
}

describe("README", () => {
  it("lists exactly the environment variables app.env refuses because the stack sets them", () => {
    const listed = row("env")
      .split("refused:")[1]
      .split(";")[0]
      .match(/`([A-Z_]+)`/g)!
      .map((name) => name.replace(/`/g, ""));
    expect(listed.sort()).toEqual([...MANAGED_ENV].sort());
  });

  it("sizes dev and prod as the capacity model does", () => {
    for (const [stack, capacity] of [
      ["dev", { sessions: 2, serversPerNamespace: 2, namespaces: 1 }],
      ["prod", { sessions: 8, serversPerNamespace: 2, namespaces: 1 }],
    ] as const) {
      const load = plannedLoad(capacity);
      const pids = derivedPidsLimit(load);
      const line = README.split("\n").find((l) => l.startsWith(`| ${stack} |`))!;
      const cells = line.split("|").map((c) => c.trim());
      expect({ groups: cells[3], load: cells[4], pids: cells[5], emergency: cells[7] }, stack).toEqual({
        groups: String(load.groups),
        load: String(load.tasks),
        pids: String(pids),
        emergency: String(emergencyTasksFor(load, pids)),
      });
    }
  });
});
