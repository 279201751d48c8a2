/**
 * The monitor's environment from the stack's settings: a pure mapping onto the variable names of
 * monitor/src/contract.ts, which the program itself reads. The component that deploys the monitor
 * sets exactly this as the container's `envs`.
 *
 * Two defaults depend on the container being watched, so they are derived here from MetaMCP's
 * limits: the RSS budget (75% of its memory limit, so idle servers are reaped before the kernel's
 * OOM killer picks a victim) and the emergency threshold (80% of its pids limit, so the sweep runs
 * before forks start to fail).
 */
import { loadSettings, SettingsError } from "../../monitor/src/config";
import { ENV, type SettingName } from "../../monitor/src/contract";
import type { ContainerLimits } from "../config/schema/limits";

export const RSS_BUDGET_SHARE_OF_MEMORY = 0.75;
export const EMERGENCY_SHARE_OF_PIDS = 0.8;

/**
 * The reap settings of `metamcp-guard:monitor` as parsed (MonitorConfig has this shape; it is
 * spelled out because the schema itself checks values through this module).
 */
export interface MonitorReapSettings {
  interval: string;
  orphanGrace: string;
  killGrace: string;
  maxGroups: number;
  /** Bytes, "off", or unset for the share of the target's memory limit. */
  rssBudget?: number | "off";
  /** Tasks, "off", or unset for the share of the target's pids limit. */
  emergencyTasks?: number | "off";
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
    rssBudget: orDerived(settings.rssBudget, target && Math.floor(target.limits.memory * RSS_BUDGET_SHARE_OF_MEMORY)),
    emergencyTasks: orDerived(settings.emergencyTasks, target && Math.floor(target.limits.pids * EMERGENCY_SHARE_OF_PIDS)),
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
