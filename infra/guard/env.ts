/**
 * The session guard's environment from the stack's settings: a pure mapping onto the variable names
 * of guard/src/contract.ts, which the program itself reads. The SessionGuard component sets exactly
 * this as the container's `envs`. Settings the stack does not expose keep the program's defaults.
 */
import { loadSettings, SettingsError } from "../../guard/src/config";
import { ENV, type SettingName } from "../../guard/src/contract";

/** Where the guard listens inside its container: MetaMCP's own port, so the published port stays the same. */
export const GUARD_LISTEN_PORT = 12008;
/** Where its /metrics and /healthz listen inside its container. */
export const GUARD_METRICS_PORT = 9465;

/** The settings of `metamcp-guard:guard` the environment is made from (GuardConfig has this shape). */
export interface GuardSessionSettings {
  idleTimeout: string;
  /** A duration, or "off". */
  maxLifetime: string;
  sweepInterval: string;
  logRequests: boolean;
}

/** What the guard needs to know of the stack around it. */
export interface GuardSurroundings {
  /** MetaMCP's origin on the network they share, e.g. http://metamcp-prod:12008. */
  upstream: string;
  /** A reverse proxy in front sets X-Forwarded-*: keep its values. */
  behindProxy: boolean;
}

/** Where each stack setting comes from, for messages that name the key. */
export const CONFIG_PATH: Partial<Record<SettingName, string[]>> = {
  idleTimeout: ["idleTimeout"],
  maxLifetime: ["maxLifetime"],
  sweepInterval: ["sweepInterval"],
  logRequests: ["logRequests"],
};

export function guardEnvironment(settings: GuardSessionSettings, around: GuardSurroundings): Record<string, string> {
  const values: Partial<Record<SettingName, string>> = {
    upstream: around.upstream,
    listenHost: "0.0.0.0",
    listenPort: String(GUARD_LISTEN_PORT),
    idleTimeout: settings.idleTimeout,
    maxLifetime: settings.maxLifetime === "off" ? "0" : settings.maxLifetime,
    sweepInterval: settings.sweepInterval,
    trustForwarded: String(around.behindProxy),
    logRequests: String(settings.logRequests),
    metricsHost: "0.0.0.0",
    metricsPort: String(GUARD_METRICS_PORT),
  };
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [ENV[key as SettingName], value]));
}

/** Problems the guard itself would report for these settings, by their config path (empty when fine). */
export function guardSettingsProblems(settings: GuardSessionSettings): Array<{ path: string[]; message: string }> {
  try {
    loadSettings(guardEnvironment(settings, { upstream: "http://metamcp:12008", behindProxy: false }));
    return [];
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    return err.problems.map((problem) => {
      const [variable, ...rest] = problem.split(": ");
      const setting = (Object.keys(CONFIG_PATH) as SettingName[]).find((key) => ENV[key] === variable);
      return { path: setting ? CONFIG_PATH[setting]! : [], message: rest.join(": ") };
    });
  }
}
