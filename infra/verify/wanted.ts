/**
 * What the stack wants of each container, derived (pure) from the stack config through the same
 * functions and constants the Pulumi components use: containerName, guardedContainerArgs (limits,
 * rotation, restart, labels, security options), the health-check commands, the monitor's
 * hardening and the slice plan. A rule changed there changes what verify expects.
 */
import type * as docker from "@pulumi/docker";
import type { StackConfig } from "../config";
import { HEALTHCHECK_COMMAND } from "../components/metamcp";
import { MONITOR_CAPABILITIES, MONITOR_HEALTHCHECK, MONITOR_READ_ONLY_ROOT } from "../components/monitor";
import { POSTGRES_INIT } from "../components/postgres";
import { GUARD_CAPABILITIES, GUARD_HEALTHCHECK, GUARD_READ_ONLY_ROOT } from "../components/sessionGuard";
import { containerName, engineMemory, guardedContainerArgs, type Role } from "../containerSettings";
import { ROLES } from "../host/names";
import { containerLimits, planSlices } from "../host/plan";
import { securityOption } from "./inspect";

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
  /**
   * HostConfig.Init; undefined for the monitor, which declares none: it is not PID 1 of
   * MetaMCP's PID namespace, where MetaMCP's own init reaps.
   */
  init?: boolean;
  /** HostConfig.RestartPolicy.Name. */
  restart: string;
  log: WantedLogConfig;
  /** Labels that must be present with these values (others may be there too). */
  labels: Record<string, string>;
  /** Config.Healthcheck: `test` when the exact command is known, `{}` when one must merely be present. */
  healthcheck: { test?: string[] };
  /** HostConfig.CgroupParent; undefined when host.slices.enabled is false. */
  cgroupParent?: string;
  /** HostConfig.SecurityOpt by option, its value normalised (securityOption): `{ "no-new-privileges": "true" }`. */
  securityOptions: Record<string, string>;
  /**
   * HostConfig.CapAdd must be exactly `adds`; CapDrop must include each of `drops` (both without
   * CAP_). Empty for both: Docker's default set, nothing added.
   */
  capabilities: { adds: string[]; drops: string[] };
  /** HostConfig.ReadonlyRootfs; undefined where a writable root is fine (MetaMCP, Postgres). */
  readonlyRootfs?: boolean;
  /**
   * HostConfig.PidMode must be container:<id> of this container as verify finds it (the monitor:
   * MetaMCP's); undefined where the container's own namespace is expected.
   */
  pidNamespaceOf?: { role: Role; name: string };
}

/** The settings block of each role in the stack config. */
function roleSettings(config: StackConfig, role: Role): { restart: string; labels?: Record<string, string> } {
  switch (role) {
    case "app":
      // A reverse proxy's labels go on whatever it routes to: the guard when there is one.
      return { restart: config.app.restart, labels: config.guard.enabled ? undefined : config.proxy?.labels };
    case "db":
      return { restart: config.database.restart };
    case "monitor":
      return { restart: config.monitor.restart };
    case "guard":
      return { restart: config.guard.restart, labels: config.proxy?.labels };
  }
}

type RoleSpecifics = Pick<WantedContainer, "init" | "healthcheck" | "capabilities" | "readonlyRootfs" | "pidNamespaceOf">;

/** MetaMCP's and Postgres's components declare no capabilities: Docker's default set, nothing added or dropped. */
const DEFAULT_CAPABILITIES = { adds: [], drops: [] };

/** The role-specific parts: what verify knows of each container beyond the shared settings. */
function roleSpecifics(config: StackConfig, role: Role): RoleSpecifics {
  switch (role) {
    case "app":
      return { init: config.app.init, healthcheck: { test: [...HEALTHCHECK_COMMAND] }, capabilities: DEFAULT_CAPABILITIES };
    case "db":
      // Its test names the database user and database, built in the component; presence is what matters.
      return { init: POSTGRES_INIT, healthcheck: {}, capabilities: DEFAULT_CAPABILITIES };
    case "monitor":
      return {
        healthcheck: { test: [...MONITOR_HEALTHCHECK] },
        capabilities: { adds: [...MONITOR_CAPABILITIES.adds], drops: [...MONITOR_CAPABILITIES.drops] },
        readonlyRootfs: MONITOR_READ_ONLY_ROOT,
        pidNamespaceOf: { role: "app", name: containerName(config, "app") },
      };
    case "guard":
      return {
        init: true,
        healthcheck: { test: [...GUARD_HEALTHCHECK] },
        capabilities: { adds: [], drops: [...GUARD_CAPABILITIES.drops] },
        readonlyRootfs: GUARD_READ_ONLY_ROOT,
      };
  }
}

/**
 * Every container the stack runs (no db with an external database, no monitor when disabled), in
 * ROLES order. (Settings the slices cannot honour never get here: parseStackConfig refuses them.)
 */
export function wantedContainers(config: StackConfig): WantedContainer[] {
  const limitsByRole = containerLimits(config);
  const cgroupParents = config.host.slices.enabled ? planSlices(config).cgroupParents : {};
  return ROLES.flatMap((role): WantedContainer[] => {
    const limits = limitsByRole[role];
    if (!limits) return [];
    const settings = roleSettings(config, role);
    // The very settings the component spreads into its docker.Container. They are plain values;
    // only their types are the provider's Input<…>.
    const guarded = guardedContainerArgs(config, role, { limits, restart: settings.restart, labels: settings.labels });
    const labels = guarded.labels as docker.types.input.ContainerLabel[];
    return [
      {
        role,
        name: containerName(config, role),
        ...engineMemory(limits),
        nanoCpus: Math.round(Number(guarded.cpus) * NANO),
        pidsLimit: limits.pids,
        restart: String(guarded.restart),
        log: { type: String(guarded.logDriver), options: { ...(guarded.logOpts as Record<string, string>) } },
        labels: Object.fromEntries(labels.map(({ label, value }) => [String(label), String(value)])),
        securityOptions: Object.fromEntries((guarded.securityOpts as string[]).map(securityOption)),
        ...roleSpecifics(config, role),
        ...(cgroupParents[role] !== undefined ? { cgroupParent: cgroupParents[role] } : {}),
      },
    ];
  });
}
