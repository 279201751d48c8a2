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

/** `off`, or a value. */
function orOff<T extends z.ZodType>(schema: T) {
  return z.union([z.literal("off"), schema]);
}

const MAX_GROUPS = 100_000;
/** A cap from 1; 0 would reap every live server, so it is refused with the way to say "no cap". */
const groupCap = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const number = /^-?\d+$/.test(String(value).trim()) ? Number(value) : NaN;
  if (number === 0) {
    ctx.addIssue({ code: "custom", message: `0 would reap every live MCP group; write off for no cap, or a whole number from 1 to ${MAX_GROUPS}` });
    return z.NEVER;
  }
  if (!Number.isSafeInteger(number) || number < 1 || number > MAX_GROUPS) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)} is neither off nor a whole number from 1 to ${MAX_GROUPS}` });
    return z.NEVER;
  }
  return number;
});

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
  /** Most live MCP groups kept; above it the idlest are reaped, each a crash to MetaMCP. Off by default. */
  maxGroups: orOff(groupCap).default("off"),
  /** RSS live MCP groups may hold; above it the idlest are reaped, each a crash to MetaMCP. Off by default. */
  rssBudget: orOff(size(parseSize("1m")!, parseSize("1t")!)).default("off"),
  /** Tasks (processes + threads) at which the emergency sweep starts; unset: derived from app.capacity. */
  emergencyTasks: orOff(wholeNumber(1, MAX_PIDS)).optional(),
  /**
   * Anonymous memory (RssAnon, summed) of MetaMCP's processes at which the emergency sweep starts;
   * unset: 90% of app.limits.memory (emergencyMemoryFor in infra/capacity.ts).
   */
  emergencyRss: orOff(size(parseSize("1m")!, parseSize("1t")!)).optional(),
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
