/** docs/policy-and-ci.md stays true to the pack: its policy table and its example config. */
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

it("the example policy config names real policies, knobs and levels", () => {
  const text = readFileSync(join(REPO_ROOT, "docs", "policy-and-ci.md"), "utf8");
  const example = JSON.parse(/```json\n([\s\S]*?)```/.exec(text)![1]) as Record<string, unknown>;
  const levels = ["advisory", "mandatory", "remediate", "disabled"];
  const problems = Object.entries(example).flatMap(([name, entry]) => {
    const policy = policies.find((p) => p.name === name);
    if (!policy) return [`${name}: no such policy`];
    if (typeof entry === "string") return levels.includes(entry) ? [] : [`${name}: level ${entry}`];
    return Object.entries(entry as Record<string, unknown>).flatMap(([knob, value]) => {
      if (knob === "enforcementLevel") return levels.includes(value as string) ? [] : [`${name}: level ${value}`];
      const schema = policy.configSchema?.properties[knob];
      if (typeof schema !== "object") return [`${name}.${knob}: no such knob`];
      const type = Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
      return type === schema.type || (schema.type === "number" && type === "integer") ? [] : [`${name}.${knob}: ${type}, want ${schema.type}`];
    });
  });
  expect(problems).toEqual([]);
});
