/**
 * What the policies know about the resources they judge: type tokens, the labels the program
 * puts on containers, the shape of the properties they read, and small pure helpers.
 *
 * The pack deliberately imports nothing from infra/: it checks what the program declares, so
 * it must not share the program's mistakes. test/policy/contract.test.ts pins the constants
 * below to infra's, so the two cannot drift apart silently.
 */
import { type ReportViolation, type ResourceValidationArgs, UnknownValueError } from "@pulumi/policy";

export const CONTAINER = "docker:index/container:Container";
export const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
/** An image built on the Docker host (the monitor's, from monitor/). */
export const BUILT_IMAGE = "docker:index/image:Image";
export const VOLUME = "docker:index/volume:Volume";
/** Our dynamic resource (infra/pidsLimit): `pulumi-nodejs:dynamic/<module>:<type>`. */
export const PIDS_LIMIT = "pulumi-nodejs:dynamic/metamcp-guard:PidsLimit";
/** @pulumi/command's remote.Command; the host slices are written by these. */
export const REMOTE_COMMAND = "command:remote:Command";

export const LABEL_STACK = "metamcp-guard.stack";
export const LABEL_ROLE = "metamcp-guard.role";
export const ROLES = ["app", "db", "monitor"] as const;
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
  volumes?: { hostPath?: string; containerPath?: string; volumeName?: string }[];
  mounts?: { type?: string; source?: string; target?: string }[];
  pidMode?: string;
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

/** How a container is named in messages: its Docker name when known, else its Pulumi name. */
export function describeContainer(props: ContainerProps, pulumiName: string): string {
  const dockerName = known(() => props.name);
  return typeof dockerName === "string" && dockerName !== pulumiName ? `${pulumiName} (${dockerName})` : pulumiName;
}

/** Docker's CPU count text ("0.5", "2") as a number, or undefined when it is not one. */
export function parseCpus(text: unknown): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) ? text : undefined;
  if (typeof text !== "string" || !/^\s*\d+(\.\d+)?\s*$/.test(text)) return undefined;
  return Number(text);
}

/** The resources `of` depends on through `property`, or through anything when the engine gave no per-property list. */
export function dependenciesThrough<R extends { urn: string; dependencies: R[]; propertyDependencies: Record<string, R[]> }>(
  of: R,
  property: string,
): R[] {
  // The engine sends per-property dependencies; a hand-written `dependsOn` only shows up in
  // `dependencies`, which is the best evidence left when the property has none.
  return of.propertyDependencies[property]?.length ? of.propertyDependencies[property] : of.dependencies;
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
