#!/usr/bin/env bash
# Deploys the dev stack to the local Docker engine in one command:
#   - uses a local state backend in .pulumi/ unless you chose one (PULUMI_BACKEND_URL or `pulumi login`);
#   - creates the dev stack if it is missing;
#   - generates random dev secrets (authSecret, postgresPassword) when they are unset;
#   - runs `pulumi up` (extra arguments are passed on, e.g. --yes).
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  cat <<'USAGE'
usage: npm run deploy:dev [-- <pulumi up flags>]

Deploys the dev stack (STACK=<name> for another) to the Docker engine its stack file names: a local
state backend in .pulumi/ unless you chose one, the stack created if missing, random dev secrets
(authSecret, postgresPassword) set when unset, then pulumi up with the flags given (such as --yes).
USAGE
  exit 0
fi

STACK=${STACK:-dev}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! command -v pulumi >/dev/null 2>&1; then
  echo "deploy-dev: the pulumi CLI is not on PATH; install it from https://www.pulumi.com/docs/install/ and run this again." >&2
  exit 127
fi

[ -d node_modules ] || npm ci --no-audit --no-fund

# Only when no backend was chosen: a local one, kept with the project and ignored by git.
if [ -z "${PULUMI_BACKEND_URL:-}" ] && ! pulumi whoami >/dev/null 2>&1; then
  mkdir -p "$repo/.pulumi"
  export PULUMI_BACKEND_URL="file://$repo/.pulumi"
  echo "deploy-dev: using the local state backend in .pulumi/"
  # A local backend encrypts secrets with a passphrase; for dev, keep a random one next to the state.
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    passfile="$repo/.pulumi/dev-passphrase"
    if [ ! -s "$passfile" ]; then
      (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))' >"$passfile")
      echo "deploy-dev: created a passphrase for the dev stack's secrets in .pulumi/dev-passphrase"
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$passfile"
  fi
fi

if ! pulumi stack select "$STACK" >/dev/null 2>&1; then
  echo "deploy-dev: creating stack $STACK"
  pulumi stack init "$STACK"
fi

# Random secrets for dev, set through stdin so they never appear in a process list or a log.
ensure_secret() {
  local key=$1 bytes=$2
  if ! pulumi config get "$key" --stack "$STACK" >/dev/null 2>&1; then
    node -e "process.stdout.write(require('crypto').randomBytes($bytes).toString('hex'))" |
      pulumi config set --secret "$key" --stack "$STACK"
    echo "deploy-dev: generated a random $key"
  fi
}
ensure_secret authSecret 32
ensure_secret postgresPassword 24

pulumi up --stack "$STACK" "$@"
