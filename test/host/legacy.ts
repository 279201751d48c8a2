/**
 * What a stack deployed before issue 12 has on its host and in its state, for the upgrade tests. Pulumi runs a
 * resource's delete from the state, so when `pulumi up` removes the old slices it is the delete script recorded
 * then that runs, not today's: legacy/slice-delete-a2f0a8e.sh is that script's exact text, made by
 * infra/host/scripts.ts at commit a2f0a8e (the version that wrote `metamcp.slice` for every stack) for the
 * unit `__UNIT__`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { shellQuote } from "../../infra/host/shell";

const LEGACY_DELETE = readFileSync(join(__dirname, "legacy", "slice-delete-a2f0a8e.sh"), "utf8");

export function legacyDeleteScript(unit: string): string {
  return LEGACY_DELETE.replace("unit='__UNIT__'", `unit=${shellQuote(unit)}`);
}

/** The first line every slice unit of `stack` carried before this change (and still does). */
export function legacySliceHeader(stack: string): string {
  return `# Written by metamcp-guard (Pulumi stack ${stack}); \`npm run verify-host -- ${stack}\` reports edits.`;
}
