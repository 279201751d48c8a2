/**
 * The process-monitor sidecar (`metamcp-guard:monitor`): the container's own limits here;
 * its reap settings are passed to monitor/ as environment variables (infra/monitor/env.ts).
 *
 * Defaults come from the monitor's own contract, so an unset key here means what an unset
 * variable means to the program. Beyond their shape, the settings are checked with the
 * monitor's own parser, so a value the monitor would refuse at start is refused at preview.
 */
import { z } from "zod";
import { DEFAULTS, DEFAULT_MAIN_PATTERN, DEFAULT_MCP_PATTERNS } from "../../../monitor/src/contract";
import { monitorSettingsProblems } from "../../monitor/env";
import { flag, imageRef, ipAddress, restartPolicy, size, strictObject, wholeNumber } from "./fields";
import { limitsWithDefaults, MAX_PIDS } from "./limits";
import { parseSize } from "../units";

const regex = z.string().min(1, { message: "must not be empty" });
/** Text the monitor's own parser judges (monitorSettingsProblems below), so each problem is reported once. */
const monitorDuration = z.string();

/** `off`, or a value; unset means the default the stack derives from MetaMCP's limits. */
function orOff<T extends z.ZodType>(schema: T) {
  return z.union([z.literal("off"), schema]);
}

export const monitorSchema = strictObject({
  enabled: flag.default(true),
  /** A prebuilt monitor image; unset, the stack builds monitor/Dockerfile on the Docker host. */
  image: imageRef.optional(),
  limits: limitsWithDefaults({ memory: "128m", cpus: 0.25, pids: 16 }),
  /** `always`: after MetaMCP is restarted the monitor must come back into its new PID namespace. */
  restart: restartPolicy.default("always"),
  /** Time between scans. */
  interval: monitorDuration.default(DEFAULTS.interval),
  /** How long a group must have been seen orphaned before it is reaped. */
  orphanGrace: monitorDuration.default(DEFAULTS.orphanGrace),
  /** Between SIGTERM to a group and SIGKILL to its survivors. */
  killGrace: monitorDuration.default(DEFAULTS.killGrace),
  /** Most live MCP groups kept; above it the idlest are reaped. */
  maxGroups: wholeNumber(0, 100_000).default(Number(DEFAULTS.maxGroups)),
  /** RSS live MCP groups may hold; unset: 75% of app.limits.memory. */
  rssBudget: orOff(size(parseSize("1m")!, parseSize("1t")!)).optional(),
  /** Tasks (processes + threads) at which the emergency sweep starts; unset: derived from app.capacity. */
  emergencyTasks: orOff(wholeNumber(1, MAX_PIDS)).optional(),
  /** Live MCP groups the emergency sweep keeps. */
  emergencyFloor: wholeNumber(0, 100_000).default(Number(DEFAULTS.emergencyFloor)),
  /** Decide and log, signal nothing: for a first deployment. */
  dryRun: flag.default(false),
  /** Regular expressions for MCP server command lines. */
  mcpPatterns: z.array(regex).min(1, { message: "must list at least one pattern" }).default([...DEFAULT_MCP_PATTERNS]),
  /** Regular expression for MetaMCP's own server process. */
  mainPattern: regex.default(DEFAULT_MAIN_PATTERN),
  /** Where /metrics and /healthz listen, inside the monitor's container, and the host port they are published on. */
  metrics: strictObject({
    host: ipAddress.default(DEFAULTS.metricsHost),
    port: wholeNumber(1, 65_535).default(Number(DEFAULTS.metricsPort)),
    /** On the Docker host's 127.0.0.1; unset: app.port + 1, so stacks sharing a host do not collide. */
    hostPort: wholeNumber(1, 65_535).optional(),
  }).prefault({}),
}).superRefine((monitor, ctx) => {
  for (const { path, message } of monitorSettingsProblems(monitor)) ctx.addIssue({ code: "custom", path, message });
});

export type MonitorConfig = z.output<typeof monitorSchema>;
