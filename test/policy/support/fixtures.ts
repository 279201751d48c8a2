/**
 * Synthetic resources for the policy tests: a container that passes every policy (shaped like
 * what infra/containerSettings.ts produces), and the resources around it. Each failing case
 * changes one thing of these, so a test fails for the reason it names.
 */
import type { PolicyProviderResource, PolicyResource } from "@pulumi/policy";
import { BUILT_IMAGE, CONTAINER, DOCKER_PROVIDER, LABEL_PRODUCTION, PIDS_LIMIT, REMOTE_IMAGE, type ContainerProps, type Role, VOLUME } from "../../../policy/resources";
import { providerOf, resource } from "./harness";

/** The Docker host of the synthetic stack: its provider's host and its PidsLimits' dockerHost. */
export const DOCKER_HOST = "unix:///var/run/docker.sock";

/** The stack's explicit Docker provider, as the engine names it beside each docker resource. */
export function dockerProvider(props: Record<string, unknown> = { host: DOCKER_HOST }, stack = "dev"): PolicyProviderResource {
  return providerOf(DOCKER_PROVIDER, "docker", props, stack);
}

export interface ContainerSpec {
  name?: string;
  role?: Role;
  stack?: string;
  /** Replaces properties of the passing container; `undefined` removes one. */
  props?: Partial<Record<keyof ContainerProps, unknown>>;
  dependencies?: PolicyResource[];
  propertyDependencies?: Record<string, PolicyResource[]>;
  /** The container's provider; by default the stack's Docker provider on DOCKER_HOST, `null` for none. */
  provider?: PolicyProviderResource | null;
}

export function containerProps(role: Role = "app", stack = "dev", changes: ContainerSpec["props"] = {}): Record<string, any> {
  const props: Record<string, any> = {
    name: role === "app" ? `metamcp-${stack}` : `metamcp-${stack}-${role}`,
    image: "sha256:0123",
    memory: 1024,
    memorySwap: 1024,
    cpus: "1",
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "3" },
    restart: "unless-stopped",
    init: true,
    healthcheck: { tests: ["CMD", "true"] },
    labels: [
      { label: "metamcp-guard.project", value: "metamcp-guard" },
      { label: "metamcp-guard.stack", value: stack },
      { label: "metamcp-guard.role", value: role },
    ],
    securityOpts: ["no-new-privileges:true"],
    // The session guard's own least privilege, as the stack declares it.
    ...(role === "guard" ? { user: "1001", readOnly: true, capabilities: { drops: ["ALL"] } } : {}),
  };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete props[key];
    else props[key] = value;
  }
  return props;
}

export function container(spec: ContainerSpec = {}): PolicyResource {
  const role = spec.role ?? "app";
  const stack = spec.stack ?? "dev";
  return resource({
    type: CONTAINER,
    name: spec.name ?? `${role}-container`,
    stack,
    props: containerProps(role, stack, spec.props),
    dependencies: spec.dependencies,
    propertyDependencies: spec.propertyDependencies,
    provider: spec.provider === null ? undefined : (spec.provider ?? dockerProvider(undefined, stack)),
  });
}

/**
 * A container of a stack that says it is production (`metamcp-guard:production: true`), labelled
 * as the program labels it then: the passing container's labels plus metamcp-guard.production.
 */
export function productionContainer(stack: string, spec: ContainerSpec = {}, value = "true"): PolicyResource {
  const labels = [...containerProps(spec.role, stack).labels, { label: LABEL_PRODUCTION, value }];
  return container({ ...spec, stack, props: { labels, ...spec.props } });
}

/** A PidsLimit whose containerId comes from `target` (as `container.id` makes it). */
export function pidsLimitFor(target: PolicyResource, limit: unknown = 64, name = `${target.name}-pids`, dockerHost = DOCKER_HOST): PolicyResource {
  return resource({
    type: PIDS_LIMIT,
    name,
    stack: target.urn.split(":")[2],
    props: { dockerHost, containerId: `${target.name}-id`, limit },
    propertyDependencies: { containerId: [target] },
  });
}

/** An image built on the Docker host, tagged with its build context's hash (as the monitor's and the guard's are). */
export function builtImage(name: string, imageName: string, stack = "dev", provider = dockerProvider(undefined, stack)): PolicyResource {
  return resource({ type: BUILT_IMAGE, name, stack, props: { imageName, build: { context: imageName.split(":")[0] }, skipPush: true }, provider });
}

/** The session guard as the stack declares it: its image, its container (built from it) and its PidsLimit. */
export function guardResources(stack = "dev", changes: ContainerSpec["props"] = {}, provider = dockerProvider(undefined, stack)): PolicyResource[] {
  const image = builtImage("guard-image", `metamcp-${stack}-guard:0123456789abcdef`, stack, provider);
  const guard = container({
    name: "guard-container",
    role: "guard",
    stack,
    provider,
    props: {
      image: "metamcp-" + stack + "-guard:0123456789abcdef",
      ports: [{ internal: 8080, external: 12008, ip: "127.0.0.1" }],
      networksAdvanced: [{ name: `metamcp-${stack}-frontend` }],
      ...changes,
    },
    propertyDependencies: { image: [image] },
  });
  return [image, guard, pidsLimitFor(guard, 64, "guard-pids", provider.props.host)];
}

export function remoteImage(name: string, stack = "prod"): PolicyResource {
  return resource({ type: REMOTE_IMAGE, name: "metamcp-image", stack, props: { name, keepLocally: true } });
}

export function volume(name: string, stack: string, protect: boolean): PolicyResource {
  return resource({ type: VOLUME, name: "postgres-data", stack, props: { name }, protect });
}

