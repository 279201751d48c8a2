/**
 * The monitor keeper, as pure functions: the names, the script the service runs, the unit texts,
 * and the create/delete scripts its Command carries.
 *
 * Why it exists (docs/host-slices.md, "The monitor keeper"): the monitor shares MetaMCP's PID
 * namespace, so it dies with MetaMCP's container. Docker 20.10 often restarts the monitor while
 * MetaMCP's container is still "restarting"; joining that namespace fails, and Docker never
 * retries a failed restart-policy start, so the monitor stays exited. The keeper, a systemd timer
 * on the host, starts it again.
 */
import { ownershipFunctions } from "./ownership";
import { needsSystemd } from "./scripts";
import { shellQuote as q, writeFileLines } from "./shell";
import { ownerLine, UNIT_DIR, unitValue } from "./unitFile";

/** Where the keeper's script lives: outside the unit directory, and out of systemd's quoting. */
export const KEEPER_SCRIPT_DIR = "/usr/local/lib/metamcp-guard";

export interface KeeperSpec {
  stack: string;
  /** The monitor's container name (containerName(config, "monitor")). */
  monitor: string;
  /** MetaMCP's container name, whose PID namespace the monitor joins. */
  app: string;
  /** Seconds between two looks. */
  intervalSeconds: number;
}

/** One stem per stack (`metamcp-prod-monitor-keeper`), so stacks sharing a host keep apart. */
export function keeperNames(spec: KeeperSpec) {
  const stem = `${spec.monitor}-keeper`;
  // Docker names are [a-zA-Z0-9][a-zA-Z0-9_.-]*, all valid in unit names; refuse anything else.
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(stem)) throw new Error(`${JSON.stringify(spec.monitor)} cannot name a systemd unit`);
  return {
    service: `${stem}.service`,
    timer: `${stem}.timer`,
    script: `${KEEPER_SCRIPT_DIR}/${stem}.sh`,
  };
}

/**
 * What the service runs: start the monitor when it exists and is stopped (exited, or created and
 * never started), but only while MetaMCP's container runs, since joining its namespace fails
 * otherwise. Quiet when there is nothing to do (it runs every few seconds); one journal line for
 * each start it makes, and a failure exits non-zero so `systemctl --failed` shows it.
 * Left alone: running, restarting (Docker's policy is at it), paused (someone chose that), and a
 * missing container (not deployed yet, or being replaced).
 */
export function keeperScript(spec: KeeperSpec): string {
  return [
    `${ownerLine(spec.stack)}: the monitor keeper's check, run by its service every few seconds.`,
    "set -u",
    `monitor=${q(spec.monitor)}`,
    `app=${q(spec.app)}`,
    'state() { docker inspect --type container -f "{{.State.Status}}" "$1" 2>/dev/null || echo missing; }',
    'case "$(state "$monitor")" in',
    "  exited|created) ;;",
    "  *) exit 0 ;;",
    "esac",
    'app_state=$(state "$app")',
    'if [ "$app_state" != running ]; then exit 0; fi',
    'if out=$(docker start "$monitor" 2>&1); then',
    '  echo "metamcp-guard keeper: started $monitor (it had stopped while $app runs; Docker\'s restart policy did not bring it back)"',
    "else",
    '  echo "metamcp-guard keeper: docker start $monitor failed: $out" >&2',
    "  exit 1",
    "fi",
    "",
  ].join("\n");
}

export function serviceUnitText(spec: KeeperSpec): string {
  const { script } = keeperNames(spec);
  return [
    `${ownerLine(spec.stack)}: starts ${spec.monitor} when Docker's restart policy gave up on it.`,
    "[Unit]",
    `Description=${unitValue(`metamcp-guard ${spec.stack}: start ${spec.monitor} if it stopped`)}`,
    "After=docker.service",
    // The timer may fire every 2 s; systemd's default start limit (5 in 10 s) would stop it.
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/bin/sh ${script}`,
    // A wedged engine must not hold the service (and so the timer) for ever.
    "TimeoutStartSec=60",
    "",
  ].join("\n");
}

/**
 * OnUnitActiveSec repeats relative to the service's last start; OnActiveSec=0 fires once as soon
 * as the timer starts. AccuracySec=1s: systemd's default (1 min) would make a 10 s timer fire
 * about once a minute.
 */
export function timerUnitText(spec: KeeperSpec): string {
  const { service } = keeperNames(spec);
  return [
    `${ownerLine(spec.stack)}.`,
    "[Unit]",
    `Description=${unitValue(`metamcp-guard ${spec.stack}: look for a stopped ${spec.monitor} every ${spec.intervalSeconds}s`)}`,
    "",
    "[Timer]",
    "OnActiveSec=0",
    `OnUnitActiveSec=${spec.intervalSeconds}s`,
    "AccuracySec=1s",
    `Unit=${service}`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

const NEEDS_SYSTEMD = needsSystemd("the monitor keeper", "host.keeper.enabled");

/**
 * The first lines of the script as versions before owner lines wrote it: still taken as the stack's own
 * (it lives in metamcp-guard's folder, under this monitor's name), so an upgrade can rewrite it.
 */
function legacyScriptStart(spec: KeeperSpec): string {
  return `set -u\nmonitor=${q(spec.monitor)}`;
}

/**
 * Create and update: refuse any of the three files that is not this stack's (ownership.ts), write the
 * script and both units atomically, daemon-reload, enable the timer (it survives a reboot) and restart
 * it (a new interval takes effect now), then read back that the timer is active and enabled. The
 * service itself is not started here: the timer does that.
 */
export function keeperApplyScript(spec: KeeperSpec): string {
  const names = keeperNames(spec);
  return [
    "set -eu",
    `timer=${q(names.timer)}`,
    ...NEEDS_SYSTEMD,
    ...ownershipFunctions(spec.stack, legacyScriptStart(spec)),
    `refuse_unless_ours ${q(names.script)}`,
    `refuse_unless_ours ${q(`${UNIT_DIR}/${names.service}`)} ${q(names.service)}`,
    `refuse_unless_ours ${q(`${UNIT_DIR}/${names.timer}`)} ${q(names.timer)}`,
    `mkdir -p ${q(KEEPER_SCRIPT_DIR)}`,
    ...writeFileLines(names.script, keeperScript(spec)),
    ...writeFileLines(`${UNIT_DIR}/${names.service}`, serviceUnitText(spec)),
    ...writeFileLines(`${UNIT_DIR}/${names.timer}`, timerUnitText(spec)),
    "systemctl daemon-reload",
    'systemctl enable --quiet "$timer"',
    'systemctl restart "$timer"',
    'active=$(systemctl is-active "$timer" || true)',
    'enabled=$(systemctl is-enabled "$timer" || true)',
    'if [ "$active" != active ] || [ "$enabled" != enabled ]; then',
    '  echo "metamcp-guard: $timer is $active and $enabled, wanted active and enabled; see: systemctl status $timer" >&2',
    "  exit 1",
    "fi",
    `echo ${q(`metamcp-guard: ${names.timer} active: starts ${spec.monitor} when it stopped while ${spec.app} runs, checked every ${spec.intervalSeconds}s`)}`,
    "",
  ].join("\n");
}

/**
 * Delete: stop and disable the timer, remove both units and the script. Safe to run twice. Units and
 * files that are not this stack's are left as they are (and a timer that is not ours is not stopped).
 */
export function keeperDeleteScript(spec: KeeperSpec): string {
  const names = keeperNames(spec);
  const files = [`${UNIT_DIR}/${names.timer}`, `${UNIT_DIR}/${names.service}`, names.script];
  return [
    "set -eu",
    `timer=${q(names.timer)}`,
    `service=${q(names.service)}`,
    ...NEEDS_SYSTEMD,
    ...ownershipFunctions(spec.stack, legacyScriptStart(spec)),
    `for f in ${files.map(q).join(" ")}; do`,
    '  if { [ -e "$f" ] || [ -L "$f" ]; } && ! is_ours "$f"; then',
    `    echo "metamcp-guard: $f was not written by stack $stack; the keeper's files and units are left as they are" >&2`,
    "    exit 0",
    "  fi",
    "done",
    'systemctl disable --now --quiet "$timer" 2>/dev/null || true',
    'systemctl stop "$service" 2>/dev/null || true',
    `rm -f ${files.map(q).join(" ")}`,
    "systemctl daemon-reload",
    'systemctl reset-failed "$timer" "$service" 2>/dev/null || true',
    'echo "metamcp-guard: $timer and $service stopped and removed"',
    "",
  ].join("\n");
}
