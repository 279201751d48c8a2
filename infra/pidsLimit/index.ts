/**
 * PidsLimit: the PID cap @pulumi/docker's Container cannot set. It sets the container's `PidsLimit` through the
 * Docker Engine API on the same host as the stack's docker.Provider, reads it back on refresh (so
 * `pulumi preview --refresh` shows a limit changed by hand), and is replaced, hence re-applied, whenever the
 * container is replaced (its id changes).
 *
 *     new PidsLimit(`${name}-pids`, { dockerHost, containerId: container.id, limit: 100 }, { parent: this });
 *
 * The Pulumi type token is `pulumi-nodejs:dynamic/metamcp-guard:PidsLimit` (what mocks see in `args.type`).
 */
import * as pulumi from "@pulumi/pulumi";
import { pidsLimitProvider } from "./provider";

export { MAX_PIDS_LIMIT, UNLIMITED } from "./dockerApi";

export interface PidsLimitArgs {
  /** Docker host string, as given to docker.Provider: `unix:///var/run/docker.sock`, `tcp://h:p`, `ssh://u@h`. */
  dockerHost: pulumi.Input<string>;
  /** Id of the container to cap; pass `container.id` so a replaced container gets a new PidsLimit. */
  containerId: pulumi.Input<string>;
  /** Maximum number of processes and threads in the container (1..MAX_PIDS_LIMIT). */
  limit: pulumi.Input<number>;
}

export class PidsLimit extends pulumi.dynamic.Resource {
  // `declare`: with target ES2022, a plain field declaration would be emitted as a class field initialised to
  // undefined after super() returns, wiping the outputs the Resource constructor has just set.
  declare readonly dockerHost: pulumi.Output<string>;
  declare readonly containerId: pulumi.Output<string>;
  /** The limit in force as last read from the engine (-1 = none, e.g. after a hand edit seen by refresh). */
  declare readonly limit: pulumi.Output<number>;

  constructor(name: string, args: PidsLimitArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      pidsLimitProvider,
      name,
      { dockerHost: args.dockerHost, containerId: args.containerId, limit: args.limit },
      opts,
      "metamcp-guard",
      "PidsLimit",
    );
  }
}
