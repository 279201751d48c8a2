#!/usr/bin/env bash
# What CI runs for one stack, from a terminal (see docs/policy-and-ci.md):
#
#   npm run preview -- <stack> [pulumi flags]
#       pulumi preview --diff --stack <stack> --policy-pack policy
#   npm run drift -- <stack> [pulumi flags]
#       pulumi preview --refresh --expect-no-changes --diff --stack <stack> --policy-pack policy
#
# POLICY_PACK_CONFIG=<file.json> adds --policy-pack-config <file.json>.
# Exit codes: 0 fine; 2 usage; 127 no pulumi CLI; 1 dependencies missing; drift: 7 when the stack
# drifted (whatever the CLI's own code for it, 7 or the 255 of older CLIs); otherwise pulumi's code.
set -uo pipefail

mode=${1:-}
stack=${2:-}
usage() {
  echo "usage: npm run preview -- <stack> [pulumi flags]   or   npm run drift -- <stack> [pulumi flags]" >&2
}
if [ "$stack" = "--help" ] || [ "$stack" = "-h" ]; then
  cat <<'USAGE'
usage: npm run preview -- <stack> [pulumi flags]   or   npm run drift -- <stack> [pulumi flags]

  preview   pulumi preview --diff --stack <stack> --policy-pack policy
  drift     pulumi preview --refresh --expect-no-changes --diff --stack <stack> --policy-pack policy;
            exits 7 when the stack drifted
POLICY_PACK_CONFIG=<file.json> adds --policy-pack-config <file.json>.
USAGE
  exit 0
fi
case "$mode" in
  preview | drift) ;;
  *) usage; exit 2 ;;
esac
if [ -z "$stack" ] || [ "${stack#-}" != "$stack" ]; then
  echo "$mode: name the stack first, such as dev or prod" >&2
  usage
  exit 2
fi
shift 2

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! command -v pulumi >/dev/null 2>&1; then
  echo "$mode: the pulumi CLI is not on PATH; install it from https://www.pulumi.com/docs/install/ and run this again." >&2
  exit 127
fi
# The CLI starts the pack in policy/, which finds @pulumi/policy (and ts-node, typescript) in the
# repository root's node_modules: without them it fails with a less helpful message.
if ! node -e 'require.resolve("@pulumi/policy/package.json", { paths: [process.argv[1]] })' "$repo/policy" >/dev/null 2>&1; then
  echo "$mode: the policy pack's dependencies are not installed; run npm ci in $repo first." >&2
  exit 1
fi

policy=(--policy-pack policy)
if [ -n "${POLICY_PACK_CONFIG:-}" ]; then policy+=(--policy-pack-config "$POLICY_PACK_CONFIG"); fi

if [ "$mode" = preview ]; then
  pulumi preview --diff --stack "$stack" "${policy[@]}" "$@"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "preview: pulumi preview of stack $stack failed (exit $rc); policy violations, if any, are listed above under 'Policies'." >&2
  fi
  exit "$rc"
fi

# Drift: keep a copy of the output, because older CLIs exit 255 for drift and for every other error
# alike, and only their message tells the two apart.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pulumi preview --refresh --expect-no-changes --diff --stack "$stack" "${policy[@]}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
drifted=false
case "$rc" in
  0)
    echo "drift: stack $stack has not drifted: the host, the state and the program agree."
    exit 0
    ;;
  7) drifted=true ;;
  255) if grep -q "no changes were expected" "$log"; then drifted=true; fi ;;
esac
if [ "$drifted" = true ]; then
  message="stack $stack drifted: pulumi preview --refresh found changes (the diff is above). If someone changed the host by hand, pulumi up --stack $stack puts it back; if the program changed, deploy it."
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::error title=Stack $stack drifted::$message"; fi
  echo "drift: $message" >&2
  exit 7
fi
echo "drift: pulumi preview of stack $stack failed (exit $rc) before it could tell whether the stack drifted; see the errors above." >&2
exit "$rc"
