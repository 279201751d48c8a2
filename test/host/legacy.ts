/**
 * What a stack deployed before issue 12 has on its host and in its state, for the upgrade tests: the
 * delete script its slices' Commands recorded (copied from infra/host/scripts.ts at commit a2f0a8e, the
 * version that wrote `metamcp.slice` for every stack). Pulumi runs a resource's delete from the state, so
 * it is this text, not today's, that runs when `pulumi up` removes the old slices.
 */
import { needsSystemd } from "../../infra/host/scripts";
import { shellQuote as q } from "../../infra/host/shell";
import { UNIT_DIR } from "../../infra/host/unitFile";

export function legacyDeleteScript(unit: string): string {
  return [
    "set -eu",
    `unit=${q(unit)}`,
    `dir=${q(UNIT_DIR)}`,
    ...needsSystemd("host slices", "host.slices.enabled"),
    'tasks=$(systemctl show -p TasksCurrent --value "$unit" 2>/dev/null || true)',
    'case "$tasks" in ""|*[!0-9]*) tasks=0 ;; esac',
    'if [ "$tasks" -gt 0 ]; then',
    '  echo "metamcp-guard: $unit still holds $tasks tasks; left in place (its limits keep binding). Once it is empty: systemctl stop $unit; rm $dir/$unit; systemctl daemon-reload" >&2',
    "  exit 0",
    "fi",
    'systemctl stop "$unit" 2>/dev/null || true',
    'rm -f "$dir/$unit"',
    "systemctl daemon-reload",
    'echo "metamcp-guard: $unit stopped and removed"',
    "",
  ].join("\n");
}

/** The first line every slice unit of `stack` carried before this change (and still does). */
export function legacySliceHeader(stack: string): string {
  return `# Written by metamcp-guard (Pulumi stack ${stack}); \`npm run verify-host -- ${stack}\` reports edits.`;
}
