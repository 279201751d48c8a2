/**
 * Synthetic resources for the policy tests: a container that passes every policy (shaped like
 * what infra/containerSettings.ts produces), and the resources around it. Each failing case
 * changes one thing of these, so a test fails for the reason it names.
 */
import type { PolicyResource } from "@pulumi/policy";
import { CONTAINER, PIDS_LIMIT, REMOTE_IMAGE, type ContainerProps, type Role, VOLUME } from "../../../policy/resources";
import { resource } from "./harness";

export interface ContainerSpec {
  name?: string;
  role?: Role;
  stack?: string;
  /** Replaces properties of the passing container; `undefined` removes one. */
  props?: Partial<Record<keyof ContainerProps, unknown>>;
  dependencies?: PolicyResource[];
  propertyDependencies?: Record<string, PolicyResource[]>;
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
  });
}

/** A PidsLimit whose containerId comes from `target` (as `container.id` makes it). */
export function pidsLimitFor(target: PolicyResource, limit: unknown = 64, name = `${target.name}-pids`): PolicyResource {
  return resource({
    type: PIDS_LIMIT,
    name,
    stack: target.urn.split(":")[2],
    props: { dockerHost: "unix:///var/run/docker.sock", containerId: `${target.name}-id`, limit },
    propertyDependencies: { containerId: [target] },
  });
}

export function remoteImage(name: string, stack = "prod"): PolicyResource {
  return resource({ type: REMOTE_IMAGE, name: "metamcp-image", stack, props: { name, keepLocally: true } });
}

export function volume(name: string, stack: string, protect: boolean): PolicyResource {
  return resource({ type: VOLUME, name: "postgres-data", stack, props: { name }, protect });
}
