/**
 * Settings that are each valid but cannot work together: limits that cannot hold the stated capacity,
 * monitor thresholds that can never fire, two published ports that collide, unpinned images in
 * production. Pure: they judge the resolved config, so what they refuse is what `pulumi up` would run.
 */
import { capacityProblems, type KeyProblem } from "../capacity";
import { formatDuration as formatGuardDuration, parseDuration as parseGuardDuration } from "../../guard/src/config";
import { parseDuration } from "../../monitor/src/config";
import { formatSize } from "./units";
import { imageTag, isNamePrefix, NAME_PREFIX_RULE } from "./schema/fields";
import { sliceOwnershipProblems } from "../host/names";
import type { ParsedSettings } from "./schema";
import type { StackConfig } from "./parse";

export type { KeyProblem };

/** Problems and, separately, what deploys but deserves a word (shown as warnings). */
export interface CrossCheckResult {
  problems: KeyProblem[];
  warnings: KeyProblem[];
}

/**
 * `parsed` are the settings as written (to tell an explicit value from a derived one), `config` the
 * same settings resolved.
 */
export function crossChecks(parsed: ParsedSettings, config: StackConfig): CrossCheckResult {
  const images = imageChecks(config);
  return {
    problems: [
      ...capacityProblems({
        load: config.app.load,
        pidsLimit: parsed.app.limits.pids,
        memoryBytes: parsed.app.limits.memory,
        emergencyTasks: typeof parsed.monitor.emergencyTasks === "number" ? parsed.monitor.emergencyTasks : undefined,
      }),
      ...monitorThresholdProblems(config),
      ...sessionBoundProblems(config),
      ...portProblems(config),
      ...hostNameProblems(parsed, config),
      ...images.problems,
    ],
    warnings: [...images.warnings, ...volumeWarnings(config)],
  };
}

/**
 * acceptNewVolume and acceptRename are for one update; left on, the next rename of the volume, the role or the
 * database would again go through unrefused.
 */
function volumeWarnings(config: StackConfig): KeyProblem[] {
  if (config.database.mode !== "internal") return [];
  return [
    ...(config.database.acceptNewVolume
      ? [{ key: "database.acceptNewVolume", message: "is true: a change of the data volume's name is not refused; set it back to false after the move" }]
      : []),
    ...(config.database.acceptRename
      ? [{ key: "database.acceptRename", message: "is true: a change of database.user or database.name is not refused; set it back to false after the rename" }]
      : []),
  ];
}

/** Monitor settings that are valid alone but could never act. */
export function monitorThresholdProblems(config: StackConfig): KeyProblem[] {
  const { monitor, app } = config;
  if (!monitor.enabled) return [];
  const problems: KeyProblem[] = [];
  if (typeof monitor.rssBudget === "number" && monitor.rssBudget >= app.limits.memory) {
    problems.push({
      key: "monitor.rssBudget",
      message:
        `${formatSize(monitor.rssBudget)} is not below app.limits.memory (${formatSize(app.limits.memory)}): the kernel's ` +
        "OOM killer would act before the budget; set it below MetaMCP's memory, or off",
    });
  }
  const killGrace = parseDuration(monitor.killGrace);
  const orphanGrace = parseDuration(monitor.orphanGrace);
  if (killGrace !== undefined && orphanGrace !== undefined && killGrace > orphanGrace) {
    problems.push({
      key: "monitor.killGrace",
      message: `${monitor.killGrace} is longer than monitor.orphanGrace (${monitor.orphanGrace}); allowed: up to ${monitor.orphanGrace}`,
    });
  }
  return problems;
}

/**
 * MetaMCP's session lifetime is a backstop behind the guard's idle timeout: shorter, it would end every
 * session, in use or not, before the guard could tell an idle one.
 */
export function sessionBoundProblems(config: StackConfig): KeyProblem[] {
  const lifetime = config.app.settings.sessionLifetime;
  const idle = parseGuardDuration(config.guard.idleTimeout);
  if (!config.guard.enabled || lifetime === "off" || idle === undefined || lifetime > idle) return [];
  return [
    {
      key: "app.settings.sessionLifetime",
      message:
        `${formatGuardDuration(lifetime)} is not longer than guard.idleTimeout (${config.guard.idleTimeout}): MetaMCP would end ` +
        "sessions in use before the guard ends idle ones; make it longer (it is the backstop), or off",
    },
  ];
}

/**
 * Names the stack gives on its Docker host that would not be its own: a default prefix the stack's name
 * makes invalid (`metamcp-Prod`), and slices outside the prefix or inside systemd's own (host/names.ts).
 */
export function hostNameProblems(parsed: ParsedSettings, config: StackConfig): KeyProblem[] {
  const problems: KeyProblem[] = [];
  if (parsed.namePrefix === undefined && !isNamePrefix(config.namePrefix)) {
    problems.push({
      key: "namePrefix",
      message: `is not set, and the stack's name makes the default ${JSON.stringify(config.namePrefix)}, which is not a name prefix; set namePrefix: ${NAME_PREFIX_RULE}`,
    });
    return problems; // the slices' names follow from the prefix: judged once it is valid
  }
  const parentAsWritten = parsed.host.slices.parent;
  if (parsed.host.slices.enabled || parentAsWritten !== undefined) {
    problems.push(...sliceOwnershipProblems({ namePrefix: config.namePrefix, parentAsWritten }));
  }
  return problems;
}

/** A port the stack publishes on the Docker host, with the key that sets it. */
export interface PublishedPort {
  key: string;
  port: number;
}

/** Every port the stack publishes on its Docker host. */
export function publishedPorts(config: StackConfig): PublishedPort[] {
  return [
    { key: "app.port", port: config.app.port },
    ...(config.monitor.enabled ? [{ key: "monitor.metrics.hostPort", port: config.monitor.metrics.hostPort }] : []),
    ...(config.guard.enabled ? [{ key: "guard.metrics.hostPort", port: config.guard.metrics.hostPort }] : []),
  ];
}

/** Two of the stack's own published ports on one number: the second container could not start. */
export function portProblems(config: StackConfig): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const seen = new Map<number, string>();
  for (const { key, port } of publishedPorts(config)) {
    const first = seen.get(port);
    if (first) problems.push({ key, message: `${port} is already published by ${first}; give each its own port` });
    else seen.set(port, key);
  }
  return problems;
}

/** The images a stack runs, by the key that names them (built images have no key). */
export function configuredImages(config: StackConfig): Array<{ key: string; image: string }> {
  return [
    { key: "app.image", image: config.app.image },
    ...(config.database.mode === "internal" ? [{ key: "database.image", image: config.database.image }] : []),
    ...(config.monitor.enabled && config.monitor.image ? [{ key: "monitor.image", image: config.monitor.image }] : []),
    ...(config.guard.enabled && config.guard.image ? [{ key: "guard.image", image: config.guard.image }] : []),
  ];
}

/**
 * An image without a tag, or tagged `latest`, is whatever the registry holds that day: a production stack
 * refuses it, others are told that it will drift.
 */
export function imageChecks(config: StackConfig): CrossCheckResult {
  const result: CrossCheckResult = { problems: [], warnings: [] };
  for (const { key, image } of configuredImages(config)) {
    const pinnedByDigest = image.includes("@sha256:");
    const tag = imageTag(image);
    if (pinnedByDigest || (tag !== undefined && tag !== "latest")) continue;
    const what = tag === undefined ? "has no tag" : "is tagged latest";
    if (config.production) {
      result.problems.push({ key, message: `${JSON.stringify(image)} ${what}; a production stack pins every image: write repository:<version> or repository@sha256:<digest>` });
    } else {
      result.warnings.push({ key, message: `${JSON.stringify(image)} ${what}: it will drift whenever the registry moves it; pin a version` });
    }
  }
  return result;
}
