/**
 * Turns a stack's raw config into the typed StackConfig the program is built from, or
 * throws a ConfigError that lists every problem, each with its key. Pure: no Pulumi calls,
 * so the table of bad configs in the tests exercises exactly what `pulumi up` runs.
 */
import { RunError } from "@pulumi/pulumi/errors";
import type { z } from "zod";
import { derivedMemory, derivedPidsLimit, emergencyTasksFor, plannedLoad, type PlannedLoad } from "../capacity";
import { crossChecks, type KeyProblem } from "./crossChecks";
import { sliceProblems } from "../host/plan";
import { settingsSchema, type ParsedSettings } from "./schema";
import type { ContainerLimits } from "./schema/limits";
import type { ResolvedHostConfig } from "./schema/host";
import { defaultParentSlice } from "../host/names";
import { checkSecrets, pickSecrets, SECRET_KEYS, secretNeeds, type SecretCheckOptions, type StackSecrets } from "./secrets";

export const PROJECT = "metamcp-guard";

export interface RawStackConfig {
  /** The stack name, e.g. "dev". */
  stack: string;
  /** This project's config keys without the "metamcp-guard:" prefix, values JSON-decoded. */
  values: Record<string, unknown>;
  /** Keys whose values Pulumi holds encrypted. */
  secretKeys: ReadonlySet<string>;
  /**
   * Keys of the stack file in no namespace this program or its providers read (`metamcp-gaurd:app`,
   * a bare `monitor`), as written: they would be ignored silently, so they are refused.
   */
  foreignKeys?: readonly string[];
}

/** The settings with every default resolved, so no part of the program guesses. */
export type StackConfig = Omit<ParsedSettings, "app" | "database" | "monitor" | "guard" | "host"> & {
  stack: string;
  namePrefix: string;
  /** The parent slice resolved: as written, or `<namePrefix>.slice`. */
  host: ResolvedHostConfig;
  app: Omit<ParsedSettings["app"], "limits"> & {
    publicUrl: string;
    /** Memory and PID cap as given, or derived from app.capacity. */
    limits: ContainerLimits;
    /** What app.capacity puts on MetaMCP's container. */
    load: PlannedLoad;
  };
  database: ParsedSettings["database"] & { volumeName: string };
  /** The metrics' host port resolved. */
  guard: ParsedSettings["guard"] & { metrics: { hostPort: number } };
  /** The emergency threshold as given, or derived from app.capacity; the metrics' host port resolved. */
  monitor: ParsedSettings["monitor"] & {
    emergencyTasks: number | "off";
    metrics: ParsedSettings["monitor"]["metrics"] & { hostPort: number };
  };
};

/**
 * Every problem of a stack's config at once. A RunError, so the Pulumi CLI prints exactly the message
 * (no stack trace, no inspected object) as it does for errors a program means to show its user.
 */
export class ConfigError extends RunError {
  constructor(
    readonly stackName: string,
    readonly problems: string[],
  ) {
    super(
      `Stack "${stackName}" has ${problems.length} config problem${problems.length === 1 ? "" : "s"}; nothing was deployed:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** How strict parsing is; the defaults are what `pulumi up` needs. */
export type ParseOptions = SecretCheckOptions;

export function parseStackConfig(
  raw: RawStackConfig,
  options: ParseOptions = {},
): { config: StackConfig; secrets: StackSecrets; warnings: string[] } {
  const settingsInput = Object.fromEntries(
    Object.entries(raw.values).filter(([key]) => !(SECRET_KEYS as readonly string[]).includes(key)),
  );
  // Every problem in one pass: the settings', the secrets' (judged from the settings as written) and
  // keys outside this project's namespace.
  const needs = secretNeeds(raw.values);
  const secretProblems = checkSecrets(needs, raw.values, raw.secretKeys, options).map(([key, message]) => `${PROJECT}:${key} ${message}`);
  const foreign = (raw.foreignKeys ?? []).map(
    (key) => `${key} is not a key of this project; write it under ${PROJECT}: (such as ${PROJECT}:${key.split(":").pop()})`,
  );
  const parsed = settingsSchema.safeParse(settingsInput, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(raw.stack, [...foreign, ...parsed.error.issues.flatMap(describeIssue), ...secretProblems]);
  }
  const config = resolveDefaults(raw.stack, parsed.data);
  // Settings that are each valid but that cannot be honoured together.
  const together = crossChecks(parsed.data, config);
  const problems = [...foreign, ...together.problems.map(keyProblemLine), ...sliceProblems(config), ...secretProblems];
  if (problems.length > 0) throw new ConfigError(raw.stack, problems);
  return { config, secrets: pickSecrets(needs, raw.values), warnings: together.warnings.map(keyProblemLine) };
}

function resolveDefaults(stack: string, settings: ParsedSettings): StackConfig {
  const namePrefix = settings.namePrefix ?? `metamcp-${stack}`;
  const load = plannedLoad(settings.app.capacity);
  const memory = settings.app.limits.memory ?? derivedMemory(load);
  const limits: ContainerLimits = {
    cpus: settings.app.limits.cpus,
    memory,
    memorySwap: settings.app.limits.memorySwap ?? memory,
    pids: settings.app.limits.pids ?? derivedPidsLimit(load),
  };
  return {
    ...settings,
    stack,
    namePrefix,
    app: { ...settings.app, limits, load, publicUrl: settings.app.publicUrl ?? `http://localhost:${settings.app.port}` },
    database: { ...settings.database, volumeName: settings.database.volumeName ?? `${namePrefix}-pgdata` },
    monitor: {
      ...settings.monitor,
      emergencyTasks: settings.monitor.emergencyTasks ?? emergencyTasksFor(load, limits.pids),
      metrics: { ...settings.monitor.metrics, hostPort: settings.monitor.metrics.hostPort ?? settings.app.port + 1 },
    },
    guard: { ...settings.guard, metrics: { hostPort: settings.guard.metrics.hostPort ?? settings.app.port + 2 } },
    host: { ...settings.host, slices: { ...settings.host.slices, parent: settings.host.slices.parent ?? defaultParentSlice(namePrefix) } },
  };
}

/** One line per problem: the full key, what was wrong, and (where zod kept it) the value given. */
function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    // A field that takes several input types (e.g. 2 or "1.5"): report the closest branch.
    const branch = issue.errors.find((errors) => errors.some((e) => e.code === "custom")) ?? issue.errors[0];
    return branch.flatMap((inner) => describeIssue({ ...inner, path: [...issue.path, ...inner.path] }));
  }
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((unknown) => `${configKey([...issue.path, unknown])} ${issue.message}`);
  }
  const key = configKey(issue.path);
  if (issue.code === "invalid_type" && issue.input === undefined) {
    return [`${key} is required`];
  }
  const message = issue.message.replace(/^Invalid input: /, "");
  const shown = issue.code === "custom" || issue.input === undefined || message.includes(JSON.stringify(issue.input));
  return [`${key} ${message}${shown ? "" : ` (got ${JSON.stringify(issue.input)})`}`];
}

/** The line a ConfigError shows for a problem with one key. */
export function keyProblemLine({ key, message }: KeyProblem): string {
  return `${configKey(key.split("."))} ${message}`;
}

/** "metamcp-guard:app.limits.memory" for the path ["app", "limits", "memory"]. */
function configKey(path: PropertyKey[]): string {
  return `${PROJECT}:${path.map(String).join(".")}`;
}
