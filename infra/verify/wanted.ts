/**
 * What the stack wants of each container, derived (pure) from the stack config through the same
 * functions the Pulumi components use: containerName, limitArgs, logArgs, guardLabels, the app's
 * health-check command and the slice plan. A rule changed there changes what verify expects.
 */
import type { StackConfig } from "../config";
import { HEALTHCHECK_COMMAND } from "../components/metamcp";
import { POSTGRES_INIT } from "../components/postgres";
import { containerName, guardLabels, limitArgs, logArgs, type Role } from "../containerSettings";
import { ROLES } from "../host/names";
import { containerLimits, planSlices } from "../host/plan";

const MIB = 1024 * 1024;
const NANO = 1e9;

export interface WantedLogConfig {
  type: string;
  /** Only these options are compared; others the engine adds are left alone. */
  options: Record<string, string>;
}

/**
 * One container as the stack declares it, in the units `docker inspect` reports. An undefined
 * field is not checked for that container (see the field's comment for when).
 */
export interface WantedContainer {
  role: Role;
  name: string;
  /** Bytes (HostConfig.Memory). */
  memory: number;
  /** Bytes, memory plus swap (HostConfig.MemorySwap). */
  memorySwap: number;
  /** Billionths of a CPU (HostConfig.NanoCpus). */
  nanoCpus: number;
  /** HostConfig.PidsLimit, also the value the kernel's pids.max must hold. */
  pidsLimit: number;
  /** HostConfig.Init; undefined for the monitor, whose container is not declared yet. */
  init?: boolean;
  /** HostConfig.RestartPolicy.Name. */
  restart: string;
  log: WantedLogConfig;
  /** Labels that must be present with these values (others may be there too). */
  labels: Record<string, string>;
  /**
   * Config.Healthcheck: `test` when the exact command is known, `{}` when one must merely be
   * present; undefined for the monitor (not declared yet).
   */
  healthcheck?: { test?: string[] };
  /** HostConfig.CgroupParent; undefined when host.slices.enabled is false. */
  cgroupParent?: string;
}

/** The settings block of each role in the stack config. */
function roleSettings(config: StackConfig, role: Role): { restart: string; labels?: Record<string, string> } {
  switch (role) {
    case "app":
      return { restart: config.app.restart, labels: config.proxy?.labels };
    case "db":
      return { restart: config.database.restart };
    case "monitor":
      return { restart: config.monitor.restart };
  }
}

/** The role-specific parts: what verify knows of each container beyond the shared settings. */
function roleSpecifics(config: StackConfig, role: Role): Pick<WantedContainer, "init" | "healthcheck"> {
  switch (role) {
    case "app":
      return { init: config.app.init, healthcheck: { test: [...HEALTHCHECK_COMMAND] } };
    case "db":
      // Its test names the database user and database, built in the component; presence is what matters.
      return { init: POSTGRES_INIT, healthcheck: {} };
    case "monitor":
      // The monitor's component is being written; until then only the shared settings are checked.
      return {};
  }
}

/**
 * Every container the stack runs (no db with an external database, no monitor when disabled), in
 * ROLES order. (Settings the slices cannot honour never get here: parseStackConfig refuses them.)
 */
export function wantedContainers(config: StackConfig): WantedContainer[] {
  const limitsByRole = containerLimits(config);
  const cgroupParents = config.host.slices.enabled ? planSlices(config).cgroupParents : {};
  const { logDriver, logOpts } = logArgs(config);
  return ROLES.flatMap((role): WantedContainer[] => {
    const limits = limitsByRole[role];
    if (!limits) return [];
    const args = limitArgs(limits);
    const settings = roleSettings(config, role);
    return [
      {
        role,
        name: containerName(config, role),
        memory: Number(args.memory) * MIB,
        memorySwap: Number(args.memorySwap) * MIB,
        nanoCpus: Math.round(Number(args.cpus) * NANO),
        pidsLimit: limits.pids,
        restart: settings.restart,
        log: { type: String(logDriver), options: { ...(logOpts as Record<string, string>) } },
        labels: Object.fromEntries(guardLabels(config, role, settings.labels).map(({ label, value }) => [String(label), String(value)])),
        ...roleSpecifics(config, role),
        ...(cgroupParents[role] !== undefined ? { cgroupParent: cgroupParents[role] } : {}),
      },
    ];
  });
}
