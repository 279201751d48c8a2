/** docs/policy-and-ci.md lists every policy of the pack, with its level, kind and knobs. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { policies } from "../../policy/policies";
import { REPO_ROOT } from "../support/stackFiles";

it("the policy table matches the pack", () => {
  const text = readFileSync(join(REPO_ROOT, "docs", "policy-and-ci.md"), "utf8");
  // | `name` | level | kind | checks | config |, cells split on the table's pipes.
  const rows = text
    .split("\n")
    .filter((line) => /^\| `[a-z0-9-]+` \|/.test(line))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()))
    .map(([name, level, kind, , config]) => ({ name: name.slice(1, -1), level, kind, knobs: [...config.matchAll(/`(\w+)`/g)].map((m) => m[1]) }));
  expect(rows).toEqual(
    policies.map((p) => ({
      name: p.name,
      level: p.enforcementLevel,
      kind: "validateStack" in p ? "stack" : "resource",
      knobs: Object.keys(p.configSchema?.properties ?? {}),
    })),
  );
});
