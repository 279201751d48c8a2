/**
 * PidsLimit: the PID cap @pulumi/docker's Container cannot set. It sets the container's `PidsLimit` through the
 * Docker Engine API on the same host as the stack's docker.Provider, reads it back on refresh (so
 * `pulumi preview --refresh` shows a limit changed by hand), and is replaced, hence re-applied, whenever the
 * container is replaced (its id changes). Every update also carries the container's memory and memory+swap,
 * so that it cannot turn swap back on (cgroup v2 with systemd, see dockerApi.ts `updateLimits`).
 *
 * It also starts the container: declare the docker.Container with `start: false` (and `mustRun: false`) and
 * `running: true` here, and the container's first process runs under the cap. A container found stopped
 * by refresh shows as a change here, and `pulumi up` starts it again, capped.
 *
 *     new PidsLimit(`${name}-pids`, {
 *       dockerHost, containerId: container.id, limit: 100, memory: 4 << 30, memorySwap: 4 << 30, running: true,
 *     }, { parent: this });
 *
 * The Pulumi type token is `pulumi-nodejs:dynamic/metamcp-guard:PidsLimit` (what mocks see in `args.type`).
 */
import * as pulumi from "@pulumi/pulumi";
import { pidsLimitProvider } from "./provider";

export { MAX_PIDS_LIMIT, UNLIMITED } from "./dockerApi";

export interface PidsLimitArgs {
  /** Docker host string, as given to docker.Provider: `unix:///var/run/docker.sock`, `tcp://h:p`, `ssh://u@h`. */
  dockerHost: pulumi.Input<string>;
  /** For an ssh:// dockerHost, the host's pinned public key (`type base64`, host.ssh.hostKey); required there. */
  hostKey?: pulumi.Input<string | undefined>;
  /** Id of the container to cap; pass `container.id` so a replaced container gets a new PidsLimit. */
  containerId: pulumi.Input<string>;
  /** Maximum number of processes and threads in the container (1..MAX_PIDS_LIMIT). */
  limit: pulumi.Input<number>;
  /** The container's HostConfig.Memory in bytes, exactly as its docker.Container sets it. */
  memory: pulumi.Input<number>;
  /** The container's HostConfig.MemorySwap in bytes (memory plus swap), exactly as its docker.Container sets it. */
  memorySwap: pulumi.Input<number>;
  /** Start the container once the cap is in force, and again whenever it is found stopped. */
  running: pulumi.Input<boolean>;
}

export class PidsLimit extends pulumi.dynamic.Resource {
  // `declare`: with target ES2022, a plain field declaration would be emitted as a class field initialised to
  // undefined after super() returns, wiping the outputs the Resource constructor has just set.
  declare readonly dockerHost: pulumi.Output<string>;
  declare readonly hostKey: pulumi.Output<string | undefined>;
  declare readonly containerId: pulumi.Output<string>;
  /** The limit in force as last read from the engine (-1 = none, e.g. after a hand edit seen by refresh). */
  declare readonly limit: pulumi.Output<number>;
  /** Memory and memory+swap in force (bytes), as last read. */
  declare readonly memory: pulumi.Output<number>;
  declare readonly memorySwap: pulumi.Output<number>;
  /** Whether the container ran when last read. */
  declare readonly running: pulumi.Output<boolean>;

  constructor(name: string, args: PidsLimitArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      pidsLimitProvider,
      name,
      {
        dockerHost: args.dockerHost,
        hostKey: args.hostKey,
        containerId: args.containerId,
        limit: args.limit,
        memory: args.memory,
        memorySwap: args.memorySwap,
        running: args.running,
      },
      opts,
      "metamcp-guard",
      "PidsLimit",
    );
  }
}
