/**
 * The settings every container of the stack shares, as pure functions of the config: hard
 * limits in the units @pulumi/docker takes, log rotation, labels, and the hardening flags.
 * The components spread these into their docker.Container args, so a limit is written once.
 */
import type * as docker from "@pulumi/docker";
import type { ContainerLimits, StackConfig } from "./config";
import { PROJECT } from "./config";
import { bytesToMiB, formatSize } from "./config/units";

const MIB = 1024 * 1024;

/** The parts of the stack that run as containers. Labels, slices and verify use these names. */
export type Role = "app" | "db" | "monitor" | "guard";

export const LABEL_PROJECT = `${PROJECT}.project`;
export const LABEL_STACK = `${PROJECT}.stack`;
export const LABEL_ROLE = `${PROJECT}.role`;
/** On the containers of a production stack (`metamcp-guard:production`): the policy pack's production rules key on it. */
export const LABEL_PRODUCTION = `${PROJECT}.production`;

/** memory and memorySwap in MiB (what @pulumi/docker 5.x takes), CPUs as the decimal text Docker parses. */
export function limitArgs(limits: ContainerLimits): Pick<docker.ContainerArgs, "memory" | "memorySwap" | "cpus"> {
  return {
    memory: bytesToMiB(limits.memory),
    // Always explicit: left unset, Docker allows swap of twice the memory and preview shows a diff every run.
    memorySwap: bytesToMiB(limits.memorySwap),
    cpus: String(limits.cpus),
  };
}

/**
 * HostConfig.Memory and MemorySwap in bytes, as the engine holds them once the container exists: the
 * provider multiplies the MiB of limitArgs by 1024², so any bytes below a whole MiB are not there. The
 * PidsLimit resource sends exactly these again, and verify expects exactly these.
 */
export function engineMemory(limits: ContainerLimits): { memory: number; memorySwap: number } {
  const { memory, memorySwap } = limitArgs(limits);
  return { memory: Number(memory) * MIB, memorySwap: Number(memorySwap) * MIB };
}

/** json-file logs, rotated, so a chatty container cannot fill the host's disk. */
export function logArgs(config: StackConfig): Pick<docker.ContainerArgs, "logDriver" | "logOpts"> {
  return {
    logDriver: "json-file",
    logOpts: { "max-size": formatSize(config.logging.maxSize), "max-file": String(config.logging.maxFile) },
  };
}

/** Labels that let `npm run verify` and operators find this stack's containers on a shared host. */
export function guardLabels(config: StackConfig, role: Role, extra: Record<string, string> = {}): docker.types.input.ContainerLabel[] {
  const labels: Record<string, string> = {
    ...extra,
    [LABEL_PROJECT]: PROJECT,
    [LABEL_STACK]: config.stack,
    [LABEL_ROLE]: role,
    ...(config.production ? { [LABEL_PRODUCTION]: "true" } : {}),
  };
  return Object.entries(labels).map(([label, value]) => ({ label, value }));
}

/** The container settings the stack decides for every container alike. */
export type GuardedSettings = Pick<
  docker.ContainerArgs,
  "memory" | "memorySwap" | "cpus" | "logDriver" | "logOpts" | "restart" | "labels" | "securityOpts"
>;

/** What every container gets: limits, rotation, restart policy, labels and no privilege escalation. */
export function guardedContainerArgs(
  config: StackConfig,
  role: Role,
  settings: { limits: ContainerLimits; restart: string; labels?: Record<string, string> },
): GuardedSettings {
  return {
    ...limitArgs(settings.limits),
    ...logArgs(config),
    restart: settings.restart,
    labels: guardLabels(config, role, settings.labels),
    securityOpts: ["no-new-privileges:true"],
  };
}

/** Container names: predictable, so operators can `docker logs metamcp-prod`. */
export function containerName(config: StackConfig, role: Role): string {
  return role === "app" ? config.namePrefix : `${config.namePrefix}-${role === "db" ? "postgres" : role}`;
}

/** The limits as people read them, for stack outputs. */
export function describeLimits(limits: ContainerLimits) {
  return {
    memory: formatSize(limits.memory),
    memorySwap: formatSize(limits.memorySwap),
    swap: formatSize(limits.memorySwap - limits.memory),
    cpus: limits.cpus,
    pids: limits.pids,
  };
}
