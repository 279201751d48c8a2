/**
 * Every container of the stack is declared through `guardedContainer`, so none can lack the
 * shared limits, rotation and labels (containerSettings.ts) or its PID cap, which
 * @pulumi/docker cannot set and our PidsLimit resource applies through the Engine API.
 *
 * No process of a container ever runs uncapped: the container is created stopped, and its
 * PidsLimit starts it once the cap is in force. Docker keeps the cap in HostConfig, so its own
 * restarts (restart policy, `docker restart`, a daemon restart) start it capped as well.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerLimits, StackConfig } from "../config";
import { dockerHostKey } from "../config/schema/host";
import type { HostSlices } from "../host";
import { containerName, engineMemory, guardedContainerArgs, type GuardedSettings, type Role } from "../containerSettings";
import { PidsLimit } from "../pidsLimit";

export interface GuardedContainerArgs {
  config: StackConfig;
  role: Role;
  limits: ContainerLimits;
  restart: string;
  /** Labels beyond the stack's own, e.g. a reverse proxy's. */
  labels?: Record<string, string>;
  /** Everything else about the container: image, env, networks, health check, … */
  container: Omit<docker.ContainerArgs, keyof GuardedSettings | "name" | "cgroupParent" | "start" | "mustRun">;
  /** The host's systemd slices; when enabled, the container runs in its role's slice. */
  host?: HostSlices;
  /**
   * Resources that must exist first (besides the container's slice). A resource's PidsLimit here means
   * that container runs before this one is created (the monitor joins MetaMCP's PID namespace).
   */
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
 *
 * `start: false` creates it stopped; `mustRun: false` because otherwise the provider (kreuzwerker
 * 4.5) records a container it finds stopped as must_run=false, and the one it just created stopped
 * would show a must_run diff on every preview. Keeping it running is the PidsLimit's job
 * (`running: true`): refresh records a container stopped by hand there, and `pulumi up` starts it.
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
      start: false,
      mustRun: false,
    },
    {
      ...opts,
      deleteBeforeReplace: true,
      dependsOn: [...(args.dependsOn ?? []), ...(host?.dependsOn(role) ?? [])],
    },
  );
  // A new container id replaces this resource, so a replaced container is capped, then started, too.
  const pidsLimit = new PidsLimit(
    `${name}-pids`,
    {
      dockerHost: config.dockerHost,
      hostKey: dockerHostKey(config),
      containerId: container.id,
      limit: limits.pids,
      ...engineMemory(limits),
      running: true,
    },
    { parent: opts.parent },
  );
  return { container, pidsLimit };
}
