/**
 * Policy configuration: every knob's default and its JSON schema, written once here. The
 * schemas tell the CLI what `--policy-pack-config <file>.json` may set (it validates the file
 * before the pack runs); the defaults are merged in by the policies themselves, so a policy
 * behaves the same whether or not the engine passed a config.
 *
 *     { "container-pids-limit": { "maximum": 8192 },
 *       "prod-images-pinned": { "requireDigest": true },
 *       "container-init-and-healthcheck": "mandatory" }
 */
import type { PolicyConfigSchema, PolicyResource, StackValidationArgs } from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { declaresProduction, stackOfUrn } from "./resources";

/** What both validation-args shapes offer for reading a policy's config. */
interface HasConfig {
  getConfig<T extends object>(): T;
}

/** The policy's config with every knob the user did not set at its default. */
export function settingsOf<T extends object>(args: HasConfig, defaults: T): T {
  return { ...defaults, ...args.getConfig<Partial<T>>() };
}

const integer = (description: string, minimum: number, value: number): PolicyConfigJSONSchema => ({
  type: "integer",
  minimum,
  default: value,
  description,
});
const number = (description: string, exclusiveMinimum: number, value: number): PolicyConfigJSONSchema => ({
  type: "number",
  exclusiveMinimum,
  default: value,
  description,
});
const strings = (description: string, value: string[]): PolicyConfigJSONSchema => ({
  type: "array",
  items: { type: "string" },
  default: value,
  description,
});

// ---- limits -------------------------------------------------------------------------------

export const MEMORY_DEFAULTS = {
  /** Docker refuses a memory limit below 6 MiB. */
  minimumMiB: 6,
  /** Operators saw MetaMCP reach 14 GB: a cap at or above that is no cap. */
  maximumMiB: 16384,
};
export const MEMORY_SCHEMA: PolicyConfigSchema = {
  properties: {
    minimumMiB: integer("Smallest memory limit accepted, in MiB", 1, MEMORY_DEFAULTS.minimumMiB),
    maximumMiB: integer("Largest memory limit accepted, in MiB", 1, MEMORY_DEFAULTS.maximumMiB),
  },
};

export const CPU_DEFAULTS = { maximum: 16 };
export const CPU_SCHEMA: PolicyConfigSchema = {
  properties: { maximum: number("Largest CPU limit accepted (cpus)", 0, CPU_DEFAULTS.maximum) },
};

export const LOG_DEFAULTS = {
  /** One file larger than this is a disk-space problem before it is a log. */
  maximumSizeMiB: 1024,
  maximumFiles: 20,
};
export const LOG_SCHEMA: PolicyConfigSchema = {
  properties: {
    maximumSizeMiB: integer("Largest json-file max-size accepted, in MiB", 1, LOG_DEFAULTS.maximumSizeMiB),
    maximumFiles: integer("Largest json-file max-file accepted", 1, LOG_DEFAULTS.maximumFiles),
  },
};

export const RESTART_DEFAULTS = { allowed: ["always", "unless-stopped", "on-failure"] };
export const RESTART_SCHEMA: PolicyConfigSchema = {
  properties: { allowed: strings("Restart policies that bring a container back", RESTART_DEFAULTS.allowed) },
};

export const PIDS_DEFAULTS = {
  /** Fewer than this and a shell plus its health check cannot run. */
  minimum: 8,
  /** Operators counted 7,396 leaked PIDs; a cap in the thousands still stops that well before the host's pid_max. */
  maximum: 4096,
};
export const PIDS_SCHEMA: PolicyConfigSchema = {
  properties: {
    minimum: integer("Smallest PID limit accepted", 1, PIDS_DEFAULTS.minimum),
    maximum: integer("Largest PID limit accepted", 1, PIDS_DEFAULTS.maximum),
  },
};

// ---- security -----------------------------------------------------------------------------

export const CAPABILITY_DEFAULTS: { allowedByRole: Record<string, string[]> } = {
  /** Only the monitor may add a capability, and only KILL: it stops leaked processes that run as MetaMCP's user. */
  allowedByRole: { monitor: ["KILL"] },
};
export const CAPABILITY_SCHEMA: PolicyConfigSchema = {
  properties: {
    allowedByRole: {
      type: "object",
      additionalProperties: { type: "array", items: { type: "string" } },
      default: CAPABILITY_DEFAULTS.allowedByRole,
      description: "Capabilities each role (metamcp-guard.role label) may add, without CAP_; roles not listed may add none",
    },
  },
};

/**
 * Every engine socket that runs containers as root: Docker's, the containerd under it (dockerd's
 * own, or the system one), CRI-O's and Podman's. /var/run is a link to /run on current systems,
 * but a bind names whichever the author wrote, so both spellings are listed.
 */
export const SOCKET_DEFAULTS = {
  socketPaths: [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/docker/containerd/containerd.sock",
    "/run/docker/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/podman/podman.sock",
    "/run/podman/podman.sock",
  ],
};
export const SOCKET_SCHEMA: PolicyConfigSchema = {
  properties: { socketPaths: strings("Host paths of container engine API sockets (Docker, containerd, CRI-O, Podman)", SOCKET_DEFAULTS.socketPaths) },
};

// ---- roles --------------------------------------------------------------------------------

export const ROLE_DEFAULTS = {
  /** Repositories of MetaMCP's image; a container running one of them is MetaMCP, whatever its label says. */
  appImages: ["ghcr.io/metatool-ai/metamcp"],
};
export const ROLE_SCHEMA: PolicyConfigSchema = {
  properties: {
    appImages: strings("Image repositories that are MetaMCP (add your mirror's), without tag or digest", ROLE_DEFAULTS.appImages),
  },
};

// ---- production ---------------------------------------------------------------------------

/**
 * A stack is production when it says so (`metamcp-guard:production: true`, which labels its
 * containers), when its name is in productionStacks (a safety net for a prod stack file that
 * forgets the setting), or when allStacks is set.
 */
export const PRODUCTION_DEFAULTS = {
  productionStacks: ["prod", "production"],
  /** Set true to hold every stack (staging, a fork's) to production's rules. */
  allStacks: false,
};
const PRODUCTION_PROPERTIES = {
  productionStacks: strings(
    "Stack names the production-only rules apply to, besides every stack whose containers carry metamcp-guard.production=true",
    PRODUCTION_DEFAULTS.productionStacks,
  ),
  allStacks: { type: "boolean", default: false, description: "Apply the production-only rules to every stack" } as PolicyConfigJSONSchema,
};

export const IMAGE_DEFAULTS = { ...PRODUCTION_DEFAULTS, requireDigest: false };
export const IMAGE_SCHEMA: PolicyConfigSchema = {
  properties: {
    ...PRODUCTION_PROPERTIES,
    requireDigest: { type: "boolean", default: false, description: "Accept only name@sha256:… references, not version tags" },
  },
};

export const VOLUME_DEFAULTS = { ...PRODUCTION_DEFAULTS };
export const VOLUME_SCHEMA: PolicyConfigSchema = { properties: { ...PRODUCTION_PROPERTIES } };

export const SLICES_DEFAULTS = { ...PRODUCTION_DEFAULTS };
export const SLICES_SCHEMA: PolicyConfigSchema = { properties: { ...PRODUCTION_PROPERTIES } };

export const WORKLOAD_DEFAULTS: typeof PRODUCTION_DEFAULTS & { allowed: string[] } = { ...PRODUCTION_DEFAULTS, allowed: [] };
export const WORKLOAD_SCHEMA: PolicyConfigSchema = {
  properties: {
    ...PRODUCTION_PROPERTIES,
    allowed: strings(
      "Resources let through although the pack cannot judge what they run: their Pulumi names (or URNs), each one you reviewed yourself",
      WORKLOAD_DEFAULTS.allowed,
    ),
  },
};

/** Whether a production-only rule applies to `stack`, whose resources are `resources`. */
export function isProduction(stack: string, resources: PolicyResource[], settings: typeof PRODUCTION_DEFAULTS): boolean {
  return settings.allStacks || settings.productionStacks.includes(stack) || declaresProduction(resources);
}

/**
 * The name of the stack a production-only stack policy judges, once the rules apply to it;
 * declines (notApplicable) any other stack. Every resource's URN carries the stack's name.
 */
export function productionStackOrNotApplicable(args: StackValidationArgs, settings: typeof PRODUCTION_DEFAULTS): string {
  const stack = stackOfUrn(args.resources[0].urn);
  if (!isProduction(stack, args.resources, settings)) args.notApplicable(`${stack} is not a production stack`);
  return stack;
}
