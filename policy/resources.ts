/**
 * What the policies know about the resources they judge: type tokens, the labels the program
 * puts on containers, the shape of the properties they read, and small pure helpers.
 *
 * The pack deliberately imports nothing from infra/: it checks what the program declares, so
 * it must not share the program's mistakes. test/policy/contract.test.ts pins the constants
 * below to infra's, so the two cannot drift apart silently.
 */
import {
  type PolicyProviderResource,
  type PolicyResource,
  type ReportViolation,
  type ResourceValidationArgs,
  UnknownValueError,
} from "@pulumi/policy";

export const CONTAINER = "docker:index/container:Container";
export const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
/** An image built on the Docker host (the monitor's, from monitor/). */
export const BUILT_IMAGE = "docker:index/image:Image";
export const VOLUME = "docker:index/volume:Volume";
/** Our dynamic resource (infra/pidsLimit): `pulumi-nodejs:dynamic/<module>:<type>`. */
export const PIDS_LIMIT = "pulumi-nodejs:dynamic/metamcp-guard:PidsLimit";
/** @pulumi/command's remote.Command; the host slices are written by these. */
export const REMOTE_COMMAND = "command:remote:Command";
/** @pulumi/command's local.Command: a script on the machine running Pulumi. */
export const LOCAL_COMMAND = "command:local:Command";
/** A Swarm service: its tasks are containers the container policies never see. */
export const DOCKER_SERVICE = "docker:index/service:Service";
/** A Docker engine plugin: it runs with whatever privileges it asks for. */
export const DOCKER_PLUGIN = "docker:index/plugin:Plugin";
export const NETWORK = "docker:index/network:Network";
/** The explicit Docker provider: which engine every docker resource talks to. */
export const DOCKER_PROVIDER = "pulumi:providers:docker";

export const LABEL_STACK = "metamcp-guard.stack";
export const LABEL_ROLE = "metamcp-guard.role";
/** On every container of a stack whose config says `metamcp-guard:production: true`. */
export const LABEL_PRODUCTION = "metamcp-guard.production";
/** app is MetaMCP, db its Postgres, monitor the process monitor, guard the session guard in front of MetaMCP. */
export const ROLES = ["app", "db", "monitor", "guard"] as const;
export type Role = (typeof ROLES)[number];

/** The container properties the policies read (docker.Container inputs, as the engine sends them). */
export interface ContainerProps {
  name?: string;
  image?: string;
  memory?: number;
  memorySwap?: number;
  cpus?: string;
  logDriver?: string;
  logOpts?: Record<string, string>;
  restart?: string;
  init?: boolean;
  healthcheck?: { tests?: string[] };
  labels?: { label: string; value: string }[];
  privileged?: boolean;
  capabilities?: { adds?: string[]; drops?: string[] };
  securityOpts?: string[];
  user?: string;
  readOnly?: boolean;
  volumes?: { hostPath?: string; containerPath?: string; volumeName?: string; fromContainer?: string }[];
  mounts?: { type?: string; source?: string; target?: string; volumeOptions?: { driverName?: string; driverOptions?: Record<string, string> } }[];
  devices?: { hostPath?: string; containerPath?: string }[];
  deviceRequests?: unknown[];
  deviceCgroupRules?: string[];
  gpus?: string;
  pidMode?: string;
  networkMode?: string;
  ipcMode?: string;
  usernsMode?: string;
  cgroupnsMode?: string;
  ports?: { internal?: number; external?: number; ip?: string }[];
  publishAllPorts?: boolean;
  networksAdvanced?: { name?: string }[];
  cgroupParent?: string;
}

/** Marks a value the engine does not know yet (during preview, outputs of resources not yet created). */
export const UNKNOWN: unique symbol = Symbol("unknown during preview");
export type Maybe<T> = T | typeof UNKNOWN;

/**
 * Reads a property that may be unknown during preview. The engine hands policies a proxy that
 * throws on an unknown value, and a policy that lets it escape is reported as "can't run during
 * preview" instead of running at all; reading through here lets a policy check what is known
 * (the limits, from config) and skip only what is not (an id, an image digest).
 */
export function known<T>(read: () => T): Maybe<T> {
  try {
    return read();
  } catch (err) {
    if (err instanceof UnknownValueError) return UNKNOWN;
    throw err;
  }
}

/**
 * The stack a resource belongs to, from its URN (`urn:pulumi:<stack>::<project>::<type>::<name>`).
 * Policies get no stack name of their own; the URN always carries it, in preview too.
 */
export function stackOfUrn(urn: string): string {
  const match = /^urn:pulumi:([^:]+)::/.exec(urn);
  if (!match) throw new Error(`not a Pulumi URN: ${urn}`);
  return match[1];
}

/**
 * A container's labels as a map (the provider takes and returns them as a list of pairs). A label
 * whose value is not known yet is left out, so one computed label cannot stop every policy that
 * looks at the role.
 */
export function labelsOf(props: ContainerProps): Map<string, string> {
  const labels = known(() => props.labels ?? []);
  const map = new Map<string, string>();
  if (labels === UNKNOWN) return map;
  for (const entry of labels) {
    const label = known(() => entry.label);
    const value = known(() => entry.value);
    if (typeof label === "string" && typeof value === "string") map.set(label, value);
  }
  return map;
}

/** The container's role label, or undefined for a container this program did not label. */
export function roleOf(props: ContainerProps): Role | undefined {
  const role = labelsOf(props).get(LABEL_ROLE);
  return (ROLES as readonly string[]).includes(role ?? "") ? (role as Role) : undefined;
}

/**
 * Whether the stack says it is production: any of its containers carries
 * metamcp-guard.production=true (the program puts it on all of them when the stack's
 * `metamcp-guard:production` is true). Any one is enough: the label can only add rules.
 */
export function declaresProduction(resources: PolicyResource[]): boolean {
  return resources.some((r) => r.type === CONTAINER && labelsOf(r.props as ContainerProps).get(LABEL_PRODUCTION) === "true");
}

/** How a container is named in messages: its Docker name when known, else its Pulumi name. */
export function describeContainer(props: ContainerProps, pulumiName: string): string {
  const dockerName = known(() => props.name);
  return typeof dockerName === "string" && dockerName !== pulumiName ? `${pulumiName} (${dockerName})` : pulumiName;
}

/** Whether `host` (an IP or a name, IPv6 in brackets or not) is loopback: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** Docker's CPU count text ("0.5", "2") as a number, or undefined when it is not one. */
export function parseCpus(text: unknown): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) ? text : undefined;
  if (typeof text !== "string" || !/^\s*\d+(\.\d+)?\s*$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The resources whose outputs `property` of `of` is computed from (the engine's per-property
 * dependencies, sent in preview and update alike). Only these prove where a value comes from: a
 * hand-written `dependsOn` shows up in `dependencies` whatever the property holds, so a literal
 * id with a `dependsOn` beside it would pass for the real thing.
 */
export function dependenciesThrough(of: PolicyResource, property: string): PolicyResource[] {
  return of.propertyDependencies[property] ?? [];
}

/** The Docker host a resource's provider talks to, when the resource has a provider that names one. */
export function providerHostOf(resource: { provider?: PolicyProviderResource }): Maybe<string> | undefined {
  if (resource.provider?.type !== DOCKER_PROVIDER) return undefined;
  const host = known(() => resource.provider!.props.host);
  return host === UNKNOWN || typeof host === "string" ? host : undefined;
}

/** Runs `check` on containers only, and tells the engine the policy does not apply to anything else. */
export function forContainers(
  check: (props: ContainerProps, args: ResourceValidationArgs, report: ReportViolation) => void,
): (args: ResourceValidationArgs, report: ReportViolation) => void {
  return (args, report) => {
    if (args.type !== CONTAINER) args.notApplicable("applies to docker containers only");
    check(args.props as ContainerProps, args, report);
  };
}
