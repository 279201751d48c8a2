/**
 * Which files on the host are the stack's own, as shell the host scripts carry. Every file a stack writes
 * (slice units, the keeper's units and script) starts with its owner line, `# Written by metamcp-guard (Pulumi
 * stack <stack>)…`; a script writes over a file only when it is absent or carries this stack's line, removes
 * only such a file, and never stands a unit of its own in front of one systemd already has from elsewhere
 * (/usr/lib/systemd/system, /run, a package). Pure: tested as text, and run on a real systemd host.
 */
import { shellQuote as q } from "./shell";
import { oneLine, OWNER_LINE_START, ownerLine } from "./unitFile";

export { ownerLine };

/**
 * Shell functions for the scripts (they need `set -eu`, `stack` set by them):
 *  - `owner_of FILE`: the stack named by the file's first line, or nothing;
 *  - `is_ours FILE`: a regular file whose first line is this stack's owner line;
 *  - `refuse_unless_ours FILE [UNIT]`: exits 1, naming the file and what to do, when FILE exists and is not
 *    this stack's, or when systemd has UNIT from another file.
 * `legacy` is the exact start of a file an older version wrote without an owner line (the keeper's script),
 * which is taken as ours too.
 */
export function ownershipFunctions(stack: string, legacy?: string): string[] {
  return [
    `stack=${q(oneLine(stack))}`,
    `owner_line=${q(ownerLine(stack))}`,
    "owner_of() {",
    '  first=""; IFS= read -r first 2>/dev/null < "$1" || true',
    "  case \"$first\" in",
    `    ${q(OWNER_LINE_START)}*) rest=\${first#${q(OWNER_LINE_START)}}; echo "\${rest%%)*}" ;;`,
    "  esac",
    "}",
    "is_ours() {",
    '  if [ -L "$1" ] || [ ! -f "$1" ]; then return 1; fi',
    '  first=""; IFS= read -r first 2>/dev/null < "$1" || true',
    '  case "$first" in "$owner_line"*) return 0 ;; esac',
    ...(legacy ? [`  if [ "$(sed -n 1,${legacy.split("\n").length}p "$1")" = ${q(legacy)} ]; then return 0; fi`] : []),
    "  return 1",
    "}",
    "refuse_unless_ours() {",
    '  if [ -L "$1" ]; then',
    '    echo "metamcp-guard: $1 is a symbolic link (a masked or linked unit), not a file stack $stack wrote; it is left as it is. Remove it yourself if it is not needed, or give the stack another namePrefix" >&2',
    "    exit 1",
    "  fi",
    '  if [ -e "$1" ] && ! is_ours "$1"; then',
    '    other=$(owner_of "$1")',
    '    if [ -n "$other" ]; then',
    '      echo "metamcp-guard: $1 belongs to Pulumi stack $other, not to stack $stack; it is left as it is. Stacks that share a host need different namePrefix values" >&2',
    "    else",
    '      echo "metamcp-guard: $1 exists and was not written by metamcp-guard (its first line is not \\"$owner_line…\\"); it is left as it is. Remove it yourself if it is not needed, or give the stack another namePrefix" >&2',
    "    fi",
    "    exit 1",
    "  fi",
    '  if [ -n "${2:-}" ]; then',
    '    frag=$(systemctl show -p FragmentPath --value "$2" 2>/dev/null || true)',
    '    if [ -n "$frag" ] && [ "$frag" != "$1" ]; then',
    '      echo "metamcp-guard: systemd already has a unit $2, from $frag; stack $stack does not put a unit of its own in front of it. Give the stack another namePrefix" >&2',
    "      exit 1",
    "    fi",
    "  fi",
    "}",
  ];
}

/**
 * The lines that stop a parent slice from nesting in, or holding, another stack's slices (systemd puts
 * `a-b.slice` inside `a.slice`, so one stack's limits would bind the other's containers), and that remove
 * an older parent slice of this same stack which the new one nests in (the default parent was
 * `metamcp.slice` before it became `<namePrefix>.slice`), once only this stack's own slices below it hold
 * its processes: those keep their limits, and the old file's limits would otherwise go on capping the new
 * slice with values nothing updates. The old slice is never stopped (that would stop everything in it).
 * Needs ownershipFunctions, `unit` and `dir`, and runs before the daemon-reload.
 */
export function parentSliceGuardLines(): string[] {
  return [
    "tasks_of() {",
    '  t=$(systemctl show -p TasksCurrent --value "$1" 2>/dev/null || true)',
    '  case "$t" in ""|*[!0-9]*) t=0 ;; esac',
    '  echo "$t"',
    "}",
    // Tasks of a slice that are not in a slice right below it (by name) with this stack's own unit file.
    "outside_tasks() {",
    '  s=${1%.slice}; total=$(tasks_of "$1")',
    '  for f in "$dir/$s"-*.slice; do',
    '    [ -e "$f" ] || continue',
    '    child=${f##*/}; rest=${child#"$s"-}; rest=${rest%.slice}',
    '    case "$rest" in *-*) continue ;; esac',
    '    if is_ours "$f"; then total=$((total - $(tasks_of "$child"))); fi',
    "  done",
    '  echo "$total"',
    "}",
    'stem=${unit%.slice}',
    'for f in "$dir/$stem"-*.slice; do',
    '  [ -e "$f" ] || continue',
    '  other=$(owner_of "$f")',
    '  if [ -n "$other" ] && [ "$other" != "$stack" ]; then',
    '    echo "metamcp-guard: ${f##*/}, written by Pulumi stack $other, would nest inside $unit, and the limits of stack $stack would bind it; nothing was changed. Stacks that share a host need namePrefix values that do not start one another with a dash" >&2',
    "    exit 1",
    "  fi",
    "done",
    'a=$stem',
    'while [ "${a%-*}" != "$a" ]; do',
    '  a=${a%-*}; f="$dir/$a.slice"',
    '  [ -e "$f" ] || continue',
    '  other=$(owner_of "$f")',
    '  if [ -n "$other" ] && [ "$other" != "$stack" ]; then',
    '    echo "metamcp-guard: $unit would nest inside $a.slice, written by Pulumi stack $other, whose limits would bind stack $stack too; nothing was changed. Stacks that share a host need namePrefix values that do not start one another with a dash" >&2',
    "    exit 1",
    "  fi",
    "done",
    // Only now, with every check passed, may the script change anything.
    "release_older_parents() {",
    '  a=$stem',
    '  while [ "${a%-*}" != "$a" ]; do',
    '    a=${a%-*}; f="$dir/$a.slice"',
    '    is_ours "$f" || continue',
    '    outside=$(outside_tasks "$a.slice")',
    '    if [ "$outside" -gt 0 ]; then',
    '      echo "metamcp-guard: note: $a.slice, an older slice of stack $stack that $unit nests in, still holds $outside tasks outside this stack\'s slices; it is left as it is, and its limits bind $unit too. Once those are gone: rm $f; systemctl daemon-reload (never systemctl stop $a.slice: that stops everything in it)" >&2',
    "    else",
    '      rm -f "$f"',
    '      echo "metamcp-guard: removed $f, an older slice of stack $stack that $unit nests in; what runs below it keeps its own slices\' limits, and it was not stopped"',
    "    fi",
    "  done",
    "}",
  ];
}
