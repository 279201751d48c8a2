/**
 * Every container of the stack is declared through `guardedContainer`, so none can lack the
 * shared limits, rotation and labels (containerSettings.ts) or its PID cap, which
 * @pulumi/docker cannot set and our PidsLimit resource applies through the Engine API.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerLimits, StackConfig } from "../config";
import type { HostSlices } from "../host";
import { containerName, guardedContainerArgs, type GuardedSettings, type Role } from "../containerSettings";
import { PidsLimit } from "../pidsLimit";

export interface GuardedContainerArgs {
  config: StackConfig;
  role: Role;
  limits: ContainerLimits;
  restart: string;
  /** Labels beyond the stack's own, e.g. a reverse proxy's. */
  labels?: Record<string, string>;
  /** Everything else about the container: image, env, networks, health check, … */
  container: Omit<docker.ContainerArgs, keyof GuardedSettings | "name" | "cgroupParent">;
  /** The host's systemd slices; when enabled, the container runs in its role's slice. */
  host?: HostSlices;
  /** Resources that must exist first (besides the container's slice). */
  dependsOn?: pulumi.Resource[];
}

export interface GuardedContainer {
  container: docker.Container;
  pidsLimit: PidsLimit;
}

/**
 * Declares `<name>-container` and `<name>-pids` under `opts.parent`. The container gets a
 * fixed name, so the old one must go before a replacement can take it (deleteBeforeReplace),
 * and, with host slices, sits in its slice, which must exist before it.
 */
export function guardedContainer(
  name: string,
  args: GuardedContainerArgs,
  opts: Omit<pulumi.CustomResourceOptions, "dependsOn"> & { parent: pulumi.Resource },
): GuardedContainer {
  const { config, role, limits, host } = args;
  const container = new docker.Container(
    `${name}-container`,
    {
      ...args.container,
      name: containerName(config, role),
      ...guardedContainerArgs(config, role, { limits, restart: args.restart, labels: args.labels }),
      cgroupParent: host?.cgroupParent(role),
    },
    {
      ...opts,
      deleteBeforeReplace: true,
      dependsOn: [...(args.dependsOn ?? []), ...(host?.dependsOn(role) ?? [])],
    },
  );
  // A new container id replaces this resource, so the cap is applied again to a replaced container.
  const pidsLimit = new PidsLimit(
    `${name}-pids`,
    { dockerHost: config.dockerHost, containerId: container.id, limit: limits.pids },
    { parent: opts.parent },
  );
  return { container, pidsLimit };
}
