/**
 * The hard limits every container of the stack runs under. One shape for MetaMCP, Postgres
 * and the monitor, so the policy pack, the systemd slices and the verify command can treat
 * them alike.
 */
import { z } from "zod";
import { cpuCount, size, strictObject, wholeNumber } from "./fields";
import { formatSize, parseSize } from "../units";

/** Docker refuses memory limits below 6 MiB. */
const DOCKER_MIN_MEMORY = parseSize("6m")!;
const MAX_MEMORY = parseSize("1t")!;

/**
 * 8 PIDs is the least a shell entrypoint plus a server can live with; 32768 is Linux's default
 * pid_max, and a cap at or above it caps nothing.
 */
export const MIN_PIDS = 8;
export const MAX_PIDS = 32767;

/** Both values, as people write sizes. */
function swapBelowMemory(memorySwap: number, memory: number): string {
  return `${formatSize(memorySwap)} must be at least memory (${formatSize(memory)}): memorySwap is memory plus swap; equal to memory means no swap`;
}

export interface ContainerLimits {
  /** Hard memory cap, bytes. */
  memory: number;
  /** Memory plus swap, bytes; equal to `memory` means no swap. */
  memorySwap: number;
  /** CPU cap, in CPUs (1.5 = one and a half cores). */
  cpus: number;
  /** Most processes and threads the container may hold at once. */
  pids: number;
}

export interface LimitDefaults {
  memory: string;
  cpus: number;
  pids: number;
}

/**
 * Limits with `memorySwap` defaulting to `memory` (no swap): Docker's own default is twice
 * the memory, which both allows swap and shows as drift on every preview.
 */
export const limitsSchema = strictObject({
  memory: size(DOCKER_MIN_MEMORY, MAX_MEMORY),
  memorySwap: size(DOCKER_MIN_MEMORY, MAX_MEMORY).optional(),
  cpus: cpuCount(0.01, 1024),
  pids: wholeNumber(MIN_PIDS, MAX_PIDS),
})
  .superRefine((limits, ctx) => {
    if (limits.memorySwap !== undefined && limits.memorySwap < limits.memory) {
      ctx.addIssue({
        code: "custom",
        path: ["memorySwap"],
        message: swapBelowMemory(limits.memorySwap, limits.memory),
      });
    }
  })
  .transform((limits): ContainerLimits => ({ ...limits, memorySwap: limits.memorySwap ?? limits.memory }));

/**
 * MetaMCP's limits: `memory` and `pids` may be left out, and are then derived from `app.capacity`
 * (infra/capacity.ts) when the stack is resolved; given, they are checked against it there.
 */
export const appLimitsSchema = strictObject({
  memory: size(DOCKER_MIN_MEMORY, MAX_MEMORY).optional(),
  memorySwap: size(DOCKER_MIN_MEMORY, MAX_MEMORY).optional(),
  cpus: cpuCount(0.01, 1024),
  pids: wholeNumber(MIN_PIDS, MAX_PIDS).optional(),
}).superRefine((limits, ctx) => {
  if (limits.memorySwap !== undefined && limits.memory === undefined) {
    ctx.addIssue({ code: "custom", path: ["memorySwap"], message: "needs app.limits.memory set too (memorySwap is memory plus swap)" });
  } else if (limits.memorySwap !== undefined && limits.memory !== undefined && limits.memorySwap < limits.memory) {
    ctx.addIssue({ code: "custom", path: ["memorySwap"], message: swapBelowMemory(limits.memorySwap, limits.memory) });
  }
});

/** The same limits, with defaults for containers whose limits a stack file may leave out. */
export function limitsWithDefaults(defaults: LimitDefaults) {
  return limitsSchema.prefault({ ...defaults });
}
