/**
 * The monitor's environment from the stack's settings: a pure mapping onto the variable names of
 * monitor/src/contract.ts, which the program itself reads. The component that deploys the monitor
 * sets exactly this as the container's `envs`.
 *
 * The two emergency thresholds depend on the container being watched. The config resolves the
 * tasks threshold from app.capacity (infra/capacity.ts, emergencyTasksFor); the memory threshold
 * (compared with the anonymous memory of MetaMCP's processes, not their RSS), unless set, is derived
 * here from MetaMCP's memory limit (emergencyMemoryFor, 90%). The program's own defaults are "off";
 * the stack always sets both.
 */
import { loadSettings, SettingsError } from "../../monitor/src/config";
import { ENV, type SettingName } from "../../monitor/src/contract";
import { emergencyMemoryFor } from "../capacity";
import type { ContainerLimits } from "../config/schema/limits";

/** The tasks threshold where a caller gives none and no capacity resolved one (the config always does). */
export const EMERGENCY_SHARE_OF_PIDS = 0.8;

/**
 * The reap settings of `metamcp-guard:monitor` as parsed (MonitorConfig has this shape; it is
 * spelled out because the schema itself checks values through this module).
 */
export interface MonitorReapSettings {
  interval: string;
  orphanGrace: string;
  killGrace: string;
  /** Most live MCP groups kept, or "off" (the default): each kill above it is a crash to MetaMCP. */
  maxGroups: number | "off";
  /** Bytes, or "off" (the default). */
  rssBudget: number | "off";
  /** Tasks, "off", or unset for EMERGENCY_SHARE_OF_PIDS of the target's pids limit (the config resolves it from app.capacity). */
  emergencyTasks?: number | "off";
  /** Bytes of anonymous memory (RssAnon summed), "off", or unset for emergencyMemoryFor() of the target's memory limit. */
  emergencyRss?: number | "off";
  emergencyFloor: number;
  dryRun: boolean;
  mcpPatterns: readonly string[];
  mainPattern: string;
  metrics: { host: string; port: number };
}

/** The container the monitor watches: MetaMCP's. */
export interface MonitorTarget {
  limits: Pick<ContainerLimits, "memory" | "pids">;
}

/** Settings the stack writes; MONITOR_PROC_ROOT stays at its default (/proc). */
type StackSetting = Exclude<SettingName, "procRoot">;

/** Where each variable comes from in the stack config, for messages that name the key. */
export const CONFIG_PATH: Record<StackSetting, string[]> = {
  interval: ["interval"],
  orphanGrace: ["orphanGrace"],
  killGrace: ["killGrace"],
  maxGroups: ["maxGroups"],
  rssBudget: ["rssBudget"],
  emergencyTasks: ["emergencyTasks"],
  emergencyRss: ["emergencyRss"],
  emergencyFloor: ["emergencyFloor"],
  dryRun: ["dryRun"],
  mcpPatterns: ["mcpPatterns"],
  mainPattern: ["mainPattern"],
  metricsHost: ["metrics", "host"],
  metricsPort: ["metrics", "port"],
};

/** The environment variables for the monitor container, every one set explicitly. */
export function monitorEnvironment(settings: MonitorReapSettings, target: MonitorTarget): Record<string, string> {
  return toEnv(settingValues(settings, target));
}

/**
 * Problems the monitor itself would report for these settings, keyed by their config path. The
 * target-derived defaults are left at the program's "off" here: they are computed, not written.
 */
export function monitorSettingsProblems(settings: MonitorReapSettings): Array<{ path: string[]; message: string }> {
  try {
    loadSettings(toEnv(settingValues(settings, undefined)));
    return [];
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    return err.problems.map((problem) => {
      const [variable, ...rest] = problem.split(": ");
      const setting = (Object.keys(CONFIG_PATH) as StackSetting[]).find((key) => ENV[key] === variable);
      return { path: setting ? CONFIG_PATH[setting] : [], message: rest.join(": ") };
    });
  }
}

function settingValues(settings: MonitorReapSettings, target: MonitorTarget | undefined): Record<StackSetting, string> {
  return {
    interval: settings.interval,
    orphanGrace: settings.orphanGrace,
    killGrace: settings.killGrace,
    maxGroups: String(settings.maxGroups),
    rssBudget: orDerived(settings.rssBudget, undefined),
    emergencyTasks: orDerived(settings.emergencyTasks, target && Math.floor(target.limits.pids * EMERGENCY_SHARE_OF_PIDS)),
    emergencyRss: orDerived(settings.emergencyRss, target && emergencyMemoryFor(target.limits.memory)),
    emergencyFloor: String(settings.emergencyFloor),
    dryRun: String(settings.dryRun),
    mcpPatterns: JSON.stringify(settings.mcpPatterns),
    mainPattern: settings.mainPattern,
    metricsHost: settings.metrics.host,
    metricsPort: String(settings.metrics.port),
  };
}

/** "0" (the program's "off") for "off", the value when set, else the derived default. */
function orDerived(value: number | "off" | undefined, derived: number | undefined): string {
  if (value === "off") return "0";
  return String(value ?? derived ?? 0);
}

function toEnv(values: Record<StackSetting, string>): Record<string, string> {
  return Object.fromEntries((Object.keys(values) as StackSetting[]).map((key) => [ENV[key], values[key]]));
}
