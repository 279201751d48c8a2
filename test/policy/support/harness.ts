/**
 * Runs policies the way the analyzer server does (@pulumi/policy 1.21's server.js), without a
 * CLI: builds ResourceValidationArgs / StackValidationArgs, resolves enforcement levels and
 * per-policy config, and collects violations and "not applicable" answers.
 *
 * Resources come either from `resource(...)` (synthetic) or from `fromDeclared(...)`, which
 * turns what the real program declares under mocks (test/support/mocks.ts) into PolicyResources.
 */
import type {
  EnforcementLevel,
  Policies,
  PolicyProviderResource,
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { RecordedResource } from "../../support/mocks";
import { unwrapSecret } from "../../support/mocks";

/** The sentinels @pulumi/policy uses for values unknown during preview (not in its typings). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const proxy = require("@pulumi/policy/proxy") as {
  unknownCheckingProxy<T>(value: T): T;
  unknownStringValue: unknown;
  unknownNumberValue: unknown;
  unknownArrayValue: unknown;
};

/** Values unknown during preview; put them in props to see what a policy does in a first preview. */
export const UNKNOWN_STRING = proxy.unknownStringValue;
export const UNKNOWN_NUMBER = proxy.unknownNumberValue;
export const UNKNOWN_ARRAY = proxy.unknownArrayValue;

export const PROJECT = "metamcp-guard";

/** What `args.notApplicable(reason)` throws here (the server has its own, internal, error class). */
class NotApplicable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export interface Outcome {
  violations: { message: string; urn?: string }[];
  /** The reason given to notApplicable, when the policy declined the resource or stack. */
  notApplicable?: string;
}

/** A policy config as in a --policy-pack-config file: a level, or knobs with an optional level. */
export type PolicyConfig = EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>);
export type PackConfig = Record<string, PolicyConfig>;

function knobsOf(config: PolicyConfig | undefined): object {
  if (config === undefined || typeof config === "string") return {};
  const { enforcementLevel: _level, ...knobs } = config;
  return knobs;
}

function levelOf(policy: { name: string; enforcementLevel?: EnforcementLevel }, config: PackConfig): EnforcementLevel {
  const configured = config[policy.name];
  const level = typeof configured === "string" ? configured : configured?.enforcementLevel;
  // The pack's own default level (policy/index.ts) is mandatory.
  return level ?? policy.enforcementLevel ?? "mandatory";
}

export function urnOf(stack: string, type: string, name: string, parent?: PolicyResource): string {
  const chain = parent ? `${parent.urn.split("::")[2]}$${type}` : type;
  return `urn:pulumi:${stack}::${PROJECT}::${chain}::${name}`;
}

export function options(partial: Partial<PolicyResourceOptions> = {}): PolicyResourceOptions {
  return {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...partial,
  };
}

function typeChecks(type: string, props: Record<string, any>) {
  const matches = (resourceClass: unknown) => (resourceClass as { __pulumiType?: string }).__pulumiType === type;
  return {
    isType: (resourceClass: unknown) => matches(resourceClass),
    asType: (resourceClass: unknown) => (matches(resourceClass) ? props : undefined),
  } as Pick<PolicyResource, "isType" | "asType">;
}

export interface ResourceSpec {
  type: string;
  name: string;
  props: Record<string, any>;
  stack?: string;
  parent?: PolicyResource;
  protect?: boolean;
  dependencies?: PolicyResource[];
  propertyDependencies?: Record<string, PolicyResource[]>;
  /** The explicit provider the engine names beside the resource (a Docker provider for the stack's docker resources). */
  provider?: PolicyProviderResource;
}

/** A provider as the engine describes it beside a resource: its type, name, URN and (unknown-checked) properties. */
export function providerOf(type: string, name: string, props: Record<string, any>, stack = "dev"): PolicyProviderResource {
  return { type, name, urn: urnOf(stack, type, name), props: proxy.unknownCheckingProxy(props) };
}

/** A synthetic resource, as the engine would describe it to a stack policy. */
export function resource(spec: ResourceSpec): PolicyResource {
  const urn = urnOf(spec.stack ?? "dev", spec.type, spec.name, spec.parent);
  return {
    type: spec.type,
    name: spec.name,
    urn,
    // Wrapped as the server wraps them: reading a value unknown during preview throws.
    props: proxy.unknownCheckingProxy(spec.props),
    opts: options({ protect: spec.protect ?? false, ...(spec.parent ? { parent: spec.parent.urn } : {}) }),
    parent: spec.parent,
    dependencies: spec.dependencies ?? Object.values(spec.propertyDependencies ?? {}).flat(),
    propertyDependencies: spec.propertyDependencies ?? {},
    ...(spec.provider ? { provider: spec.provider } : {}),
    ...typeChecks(spec.type, spec.props),
  };
}

/**
 * The resources the real program declared under mocks, as PolicyResources: URNs rebuilt the way
 * the mock monitor builds them, options, dependencies, per-property dependencies and providers
 * mapped to the resource objects, as the analyzer server maps what the engine sends.
 */
export function fromDeclared(records: RecordedResource[], stack: string): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  const made: { record: RecordedResource; resource: PolicyResource }[] = [];
  // Parents and providers are registered before their children, so one pass in order finds them.
  for (const record of records) {
    const parent = record.options.parent ? byUrn.get(record.options.parent) : undefined;
    const props = plainInputs(record.inputs);
    const provider = providerFor(record.options.provider, byUrn);
    const built = resource({ type: record.type, name: record.name, props, stack, parent, protect: record.options.protect, provider });
    built.opts.deleteBeforeReplace = record.options.deleteBeforeReplace;
    byUrn.set(built.urn, built);
    made.push({ record, resource: built });
  }
  const find = (from: string) => (urn: string) => {
    const dependency = byUrn.get(urn);
    if (!dependency) throw new Error(`${from} depends on ${urn}, which the adapter did not rebuild`);
    return dependency;
  };
  for (const { record, resource: built } of made) {
    built.dependencies = record.options.dependencies.map(find(built.urn));
    built.propertyDependencies = Object.fromEntries(
      Object.entries(record.options.propertyDependencies).map(([property, urns]) => [property, urns.map(find(built.urn))]),
    );
  }
  return made.map((m) => m.resource);
}

/** The provider a `<urn>::<id>` reference names, as the engine describes it to policies. */
function providerFor(reference: string, byUrn: Map<string, PolicyResource>): PolicyProviderResource | undefined {
  if (!reference) return undefined;
  const urn = reference.slice(0, reference.lastIndexOf("::"));
  // Default providers (command's, for the slices) are not registered under mocks; only the
  // stack's explicit Docker provider is, and that is the one policies read.
  const provider = byUrn.get(urn);
  return provider && { type: provider.type, name: provider.name, urn: provider.urn, props: provider.props };
}

/** Policies see secrets as plain values (the server deserializes them so); mocks keep them wrapped. */
export function plainInputs(value: unknown): any {
  const plain = unwrapSecret(value);
  if (Array.isArray(plain)) return plain.map(plainInputs);
  if (plain && typeof plain === "object") return Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, plainInputs(v)]));
  return plain;
}

function collect() {
  const violations: Outcome["violations"] = [];
  const report = (message: string, urn?: string) => violations.push(urn === undefined ? { message } : { message, urn });
  return { violations, report };
}

function notApplicable(reason?: string): never {
  throw new NotApplicable(reason ?? "");
}

async function outcomeOf(run: () => unknown, violations: Outcome["violations"]): Promise<Outcome> {
  try {
    await run();
    return { violations };
  } catch (err) {
    if (err instanceof NotApplicable) return { violations, notApplicable: err.reason };
    throw err;
  }
}

/** Calls a resource policy's validate functions on one resource, as the server's `analyze` does. */
export async function validateResource(policy: ResourceValidationPolicy, target: PolicyResource, config: PolicyConfig = {}): Promise<Outcome> {
  const { violations, report } = collect();
  const args: ResourceValidationArgs = {
    type: target.type,
    props: target.props,
    urn: target.urn,
    name: target.name,
    opts: target.opts,
    ...(target.provider ? { provider: target.provider } : {}),
    stackTags: new Map(),
    ...typeChecks(target.type, target.props),
    getConfig: <T extends object>() => knobsOf(config) as T,
    notApplicable,
  } as ResourceValidationArgs;
  const validations = [policy.validateResource ?? []].flat();
  return outcomeOf(async () => {
    for (const validate of validations) await validate(args, report);
  }, violations);
}

/** Calls a stack policy's validateStack on the resources, as the server's `analyzeStack` does. */
export async function validateStack(policy: StackValidationPolicy, resources: PolicyResource[], config: PolicyConfig = {}): Promise<Outcome> {
  const { violations, report } = collect();
  const args: StackValidationArgs = {
    resources,
    stackTags: new Map(),
    getConfig: <T extends object>() => knobsOf(config) as T,
    notApplicable,
  };
  return outcomeOf(() => policy.validateStack(args, report), violations);
}

export interface Finding {
  policy: string;
  level: EnforcementLevel;
  message: string;
  urn?: string;
}

/** Every policy over every resource (resource policies) and over the stack (stack policies), honouring levels and config. */
export async function runPolicies(policies: Policies, resources: PolicyResource[], config: PackConfig = {}): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const policy of policies) {
    const level = levelOf(policy, config);
    if (level === "disabled") continue;
    if ("validateStack" in policy) {
      const outcome = await validateStack(policy, resources, config[policy.name]);
      for (const v of outcome.violations) findings.push({ policy: policy.name, level, message: v.message, urn: v.urn });
    } else {
      for (const target of resources) {
        const outcome = await validateResource(policy, target, config[policy.name]);
        for (const v of outcome.violations) findings.push({ policy: policy.name, level, message: v.message, urn: target.urn });
      }
    }
  }
  return findings;
}

/** The findings that would fail `pulumi preview` (mandatory), as "policy: message". */
export function blocking(findings: Finding[]): string[] {
  return findings.filter((f) => f.level === "mandatory" || f.level === "remediate").map((f) => `${f.policy}: ${f.message}`);
}

/** Names of the policies with a mandatory finding, sorted and unique. */
export function violatedPolicies(findings: Finding[]): string[] {
  return [...new Set(findings.filter((f) => f.level === "mandatory").map((f) => f.policy))].sort();
}


/**
 * Changes a resource's properties in place: the resources that point at it (a PidsLimit's
 * containerId, the monitor's pidMode) keep pointing at the same object, as in the engine's view.
 */
export function editProps(target: PolicyResource, change: (props: Record<string, any>) => Record<string, any>): PolicyResource {
  target.props = proxy.unknownCheckingProxy(change(JSON.parse(JSON.stringify(target.props))));
  return target;
}

/** The blocking findings of `after` that `before` did not have: what one change to a stack brought. */
export function newBlocking(before: Finding[], after: Finding[]): string[] {
  const had = new Set(blocking(before));
  return blocking(after).filter((finding) => !had.has(finding));
}
