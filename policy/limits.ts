/**
 * Hard limits on every container: memory, no swap, CPU, rotated logs, a restart policy, and a
 * PID cap. These are what stood between MetaMCP's leak and the host (14 GB, 7,396 PIDs), so
 * they are all mandatory.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
  CPU_DEFAULTS,
  CPU_SCHEMA,
  LOG_DEFAULTS,
  LOG_SCHEMA,
  MEMORY_DEFAULTS,
  MEMORY_SCHEMA,
  PIDS_DEFAULTS,
  PIDS_SCHEMA,
  RESTART_DEFAULTS,
  RESTART_SCHEMA,
  settingsOf,
} from "./config";
import {
  CONTAINER,
  type ContainerProps,
  dependenciesThrough,
  describeContainer,
  forContainers,
  known,
  parseCpus,
  PIDS_LIMIT,
  providerHostOf,
  UNKNOWN,
} from "./resources";

export const containerMemoryLimit: ResourceValidationPolicy = {
  name: "container-memory-limit",
  description: "Every container has a hard memory limit (memory, in MiB) within the configured range.",
  enforcementLevel: "mandatory",
  configSchema: MEMORY_SCHEMA,
  validateResource: forContainers((props, args, report) => {
    const { minimumMiB, maximumMiB } = settingsOf(args, MEMORY_DEFAULTS);
    const memory = known(() => props.memory);
    if (memory === UNKNOWN) return;
    const name = describeContainer(props, args.name);
    if (typeof memory !== "number" || memory <= 0) {
      report(`${name} has no memory limit: set memory (MiB), or a leak takes the whole host.`);
    } else if (memory < minimumMiB || memory > maximumMiB) {
      report(`${name} has a memory limit of ${memory} MiB; allowed: ${minimumMiB} to ${maximumMiB} MiB.`);
    }
  }),
};

export const containerSwapDisabled: ResourceValidationPolicy = {
  name: "container-swap-disabled",
  description: "Every container has memorySwap equal to memory, so a leak is killed at its limit instead of swapping.",
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    const memory = known(() => props.memory);
    const memorySwap = known(() => props.memorySwap);
    if (memory === UNKNOWN || memorySwap === UNKNOWN) return;
    const name = describeContainer(props, args.name);
    if (memorySwap === undefined || memorySwap === null) {
      // Unset, Docker allows swap of twice the memory (and the provider shows a diff every run).
      report(`${name} does not set memorySwap; Docker then allows swap as large as memory. Set memorySwap = memory (${memory ?? "?"}).`);
    } else if (memorySwap !== memory) {
      report(`${name} has memorySwap ${memorySwap} but memory ${memory}: swap must be disabled (memorySwap = memory).`);
    }
  }),
};

export const containerCpuLimit: ResourceValidationPolicy = {
  name: "container-cpu-limit",
  description: "Every container has a CPU limit (cpus) above 0 and at most the configured maximum.",
  enforcementLevel: "mandatory",
  configSchema: CPU_SCHEMA,
  validateResource: forContainers((props, args, report) => {
    const { maximum } = settingsOf(args, CPU_DEFAULTS);
    const text = known(() => props.cpus);
    if (text === UNKNOWN) return;
    const cpus = parseCpus(text);
    const name = describeContainer(props, args.name);
    if (text === undefined || text === null || text === "") {
      report(`${name} has no CPU limit: set cpus (such as "1" or "0.5").`);
    } else if (cpus === undefined || cpus <= 0 || cpus > maximum) {
      report(`${name} has cpus ${JSON.stringify(text)}; allowed: a number above 0 and at most ${maximum}.`);
    }
  }),
};

const SIZE_UNITS: Record<string, number> = { "": 1 / (1024 * 1024), b: 1 / (1024 * 1024), k: 1 / 1024, m: 1, g: 1024 };

/** A Docker log size ("10m", "1g", "500k") in MiB, or undefined when Docker would refuse it. */
export function logSizeMiB(text: unknown): number | undefined {
  const match = typeof text === "string" ? /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(text.trim()) : null;
  return match ? Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()] : undefined;
}

export const containerLogRotation: ResourceValidationPolicy = {
  name: "container-log-rotation",
  description: "Every container logs with the json-file driver, rotated by max-size and max-file, so logs cannot fill the disk.",
  enforcementLevel: "mandatory",
  configSchema: LOG_SCHEMA,
  validateResource: forContainers((props, args, report) => {
    const { maximumSizeMiB, maximumFiles } = settingsOf(args, LOG_DEFAULTS);
    const driver = known(() => props.logDriver);
    const opts = known(() => props.logOpts);
    if (driver === UNKNOWN || opts === UNKNOWN) return;
    const name = describeContainer(props, args.name);
    // Unset, the daemon's default applies, which is json-file without rotation on a stock engine.
    if (driver !== "json-file") {
      report(`${name} logs with ${driver ? `the ${driver} driver` : "the daemon's default driver"}; use logDriver "json-file" with max-size and max-file.`);
      return;
    }
    const size = logSizeMiB(opts?.["max-size"]);
    const files = Number(opts?.["max-file"]);
    if (size === undefined || size <= 0 || size > maximumSizeMiB) {
      report(`${name} has log max-size ${JSON.stringify(opts?.["max-size"])}; set one such as "10m", at most ${maximumSizeMiB} MiB.`);
    }
    if (!Number.isInteger(files) || files < 1 || files > maximumFiles) {
      report(`${name} has log max-file ${JSON.stringify(opts?.["max-file"])}; set a whole number from 1 to ${maximumFiles}.`);
    }
  }),
};

export const containerRestartPolicy: ResourceValidationPolicy = {
  name: "container-restart-policy",
  description: "Every container has a restart policy that brings it back after the kernel kills it at its limit.",
  enforcementLevel: "mandatory",
  configSchema: RESTART_SCHEMA,
  validateResource: forContainers((props, args, report) => {
    const { allowed } = settingsOf(args, RESTART_DEFAULTS);
    const restart = known(() => props.restart);
    if (restart === UNKNOWN) return;
    // @pulumi/docker's default is "no": an OOM kill would leave MetaMCP down.
    if (typeof restart !== "string" || !allowed.includes(restart)) {
      report(`${describeContainer(props, args.name)} has restart ${JSON.stringify(restart ?? "no")}; allowed: ${allowed.join(", ")}.`);
    }
  }),
};

/**
 * The PidsLimit resources that cap `container`: those whose containerId is computed from the
 * container's own output (its id). A PidsLimit that only sits beside it (`dependsOn`) with a
 * literal id caps whatever that id names, which is not this container.
 */
export function attachedPidsLimits(container: PolicyResource, resources: PolicyResource[]): PolicyResource[] {
  return resources.filter((r) => r.type === PIDS_LIMIT && dependenciesThrough(r, "containerId").some((d) => d.urn === container.urn));
}

/** Why `pids` does not cap `container` on the engine the container runs on, or undefined when it does (or cannot be told yet). */
export function hostMismatch(pids: PolicyResource, container: PolicyResource): string | undefined {
  const containerHost = providerHostOf(container);
  const pidsHost = known(() => pids.props.dockerHost);
  if (containerHost === UNKNOWN || pidsHost === UNKNOWN) return undefined;
  if (containerHost === undefined) {
    // The default provider's host is the DOCKER_HOST of whoever runs pulumi: nothing to compare against.
    return "the container has no explicit Docker provider, so the engine it runs on is whatever DOCKER_HOST says and no PidsLimit can be shown to reach it";
  }
  if (pidsHost !== containerHost) {
    return `its dockerHost ${JSON.stringify(pidsHost ?? null)} is not the container's Docker host ${JSON.stringify(containerHost)}: the cap would land on another engine`;
  }
  return undefined;
}

export const containerPidsLimit: StackValidationPolicy = {
  name: "container-pids-limit",
  description:
    "Every container has exactly one PidsLimit attached: its containerId is the container's id output, its dockerHost the container's provider host, its limit in range.",
  enforcementLevel: "mandatory",
  configSchema: PIDS_SCHEMA,
  validateStack: (args, report) => {
    const { minimum, maximum } = settingsOf(args, PIDS_DEFAULTS);
    const containers = args.resources.filter((r) => r.type === CONTAINER);
    for (const container of containers) {
      const name = describeContainer(container.props as ContainerProps, container.name);
      const attached = attachedPidsLimits(container, args.resources);
      if (attached.length === 0) {
        // @pulumi/docker cannot set a PID cap; without our resource the container has none.
        report(`${name} has no PidsLimit whose containerId is its id: nothing caps its processes (operators saw 7,396).`, container.urn);
        continue;
      }
      if (attached.length > 1) {
        report(`${name} has ${attached.length} PidsLimit resources (${attached.map((p) => p.name).join(", ")}); they would overwrite each other.`, container.urn);
      }
      for (const pids of attached) {
        const mismatch = hostMismatch(pids, container);
        if (mismatch) report(`${pids.name} does not cap ${name}: ${mismatch}.`, pids.urn);
        const limit = known(() => pids.props.limit);
        if (limit === UNKNOWN) continue;
        if (typeof limit !== "number" || !Number.isInteger(limit) || limit < minimum || limit > maximum) {
          report(`${pids.name} caps ${name} at ${JSON.stringify(limit)} PIDs; allowed: ${minimum} to ${maximum}.`, pids.urn);
        }
      }
    }
    // A PidsLimit whose containerId comes from no container of the stack caps a literal id: at best a
    // container the pack cannot see, at worst a decoy beside a container left uncapped.
    for (const pids of args.resources.filter((r) => r.type === PIDS_LIMIT)) {
      const sources = dependenciesThrough(pids, "containerId").filter((d) => d.type === CONTAINER);
      if (sources.length === 0) {
        const id = known(() => pids.props.containerId);
        const shown = id === UNKNOWN ? "an id" : JSON.stringify(id ?? null);
        report(`${pids.name} caps ${shown}, which is no container of this stack: set containerId to the container's id output (container.id).`, pids.urn);
      } else if (sources.length > 1) {
        report(`${pids.name} takes its containerId from ${sources.map((s) => s.name).join(" and ")}: it must come from exactly one container.`, pids.urn);
      }
    }
  },
};

export const limitPolicies = [
  containerMemoryLimit,
  containerSwapDisabled,
  containerCpuLimit,
  containerLogRotation,
  containerRestartPolicy,
  containerPidsLimit,
];
