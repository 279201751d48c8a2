/**
 * Runs the stack under Pulumi mocks and records every resource it declares, with the inputs
 * the engine would receive. Secret inputs stay wrapped (see `isSecretValue`), so tests can
 * tell a secret from a plain value.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, PROJECT, type StackConfig } from "../../infra/config";
import { buildStack, type StackOutputs } from "../../infra/stack";
import { stackValues } from "./stackFiles";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** The resource options the engine received. */
  options: RecordedOptions;
}

export interface RecordedOptions {
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  replaceOnChanges: string[];
  /** URNs of explicit and implicit dependencies. */
  dependencies: string[];
  /** Per input property, the URNs of the resources its value is computed from. */
  propertyDependencies: Record<string, string[]>;
  parent: string;
  /** The provider reference (`<urn>::<id>`), or "" for the default provider. */
  provider: string;
  /** Outputs the engine is asked to keep secret whatever the provider returns. */
  additionalSecretOutputs: string[];
}

export interface DeclaredStack {
  config: StackConfig;
  resources: RecordedResource[];
  outputs: StackOutputs;
}

/** The signature Pulumi puts on a secret value when it crosses the RPC boundary. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** The value inside a secret wrapper (or the value itself). */
export function unwrapSecret<T = any>(value: unknown): T {
  return (isSecretValue(value) ? (value as { value: unknown }).value : value) as T;
}

/** Mock state for a resource: its inputs, plus the outputs the program reads. */
function mockState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  switch (type) {
    case "docker:index/remoteImage:RemoteImage":
      return { ...inputs, imageId: `sha256:${name}`, repoDigest: `${inputs.name}@sha256:${"0".repeat(64)}` };
    default:
      return inputs;
  }
}

/**
 * Declares the stack for `stack` (its real Pulumi.<stack>.yaml, or `file`, plus test secrets and
 * overrides).
 */
export async function declareStack(stack: string, overrides: Record<string, unknown> = {}, file?: string): Promise<DeclaredStack> {
  const { values, secretKeys } = stackValues(stack, overrides, file);
  const resources = await recordResources(stack);
  pulumi.runtime.setAllConfig(values, secretKeys);
  const { config, secrets } = loadStackConfig(stack);
  const outputs = buildStack(config, secrets);
  await waitForRegistrations();
  return { config, resources, outputs };
}

/**
 * Sets Pulumi mocks (project metamcp-guard, stack `stack`) under which every resource registered from now on is
 * recorded, with its inputs and options, into the returned list. Each gets the id `<name>-id` and its inputs as
 * its state.
 */
export async function recordResources(stack = "test"): Promise<RecordedResource[]> {
  const resources: RecordedResource[] = [];
  const options = new Map<string, RecordedOptions>();
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        resources.push({ type, name, inputs, options: options.get(`${type}::${name}`)! });
        return { id: `${name}-id`, state: mockState(type, name, inputs) };
      },
      call: ({ inputs }) => inputs,
    },
    PROJECT,
    stack,
    false,
  );
  recordOptions(options);
  return resources;
}

/**
 * Mocks see only a resource's inputs; its options (protect, deleteBeforeReplace, …) travel in
 * the same request, so read them there before the mock monitor handles it.
 */
function recordOptions(into: Map<string, RecordedOptions>): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: any, callback: (err: unknown, res: unknown) => void): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    into.set(`${req.getType()}::${req.getName()}`, {
      protect: req.getProtect() ?? false,
      retainOnDelete: req.getRetainondelete() ?? false,
      deleteBeforeReplace: req.getDeletebeforereplace(),
      replaceOnChanges: req.getReplaceonchangesList(),
      dependencies: req.getDependenciesList(),
      propertyDependencies: propertyDependenciesOf(req),
      parent: req.getParent(),
      provider: req.getProvider() ?? "",
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    });
    return register(req, callback);
  };
}

/** The request's per-property dependencies as plain URN lists. */
function propertyDependenciesOf(req: any): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  req.getPropertydependenciesMap().forEach((deps: { getUrnsList(): string[] }, property: string) => {
    found[property] = deps.getUrnsList();
  });
  return found;
}

/** Waits until every resource registration the program started has reached the mocks. */
export async function waitForRegistrations(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
}

/** The value of an Output, for assertions. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Resources of one type, e.g. "docker:index/container:Container". */
export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

export function named(resources: RecordedResource[], name: string): RecordedResource {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource named ${name}; have: ${resources.map((r) => r.name).join(", ")}`);
  return found;
}
