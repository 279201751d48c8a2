/**
 * HostSlices: the systemd slices of one stack, pushed to the Docker host over SSH with one
 * `remote.Command` per unit. Scripts and names come from the pure modules next to this one;
 * this file only declares resources.
 *
 * Wiring (see docs/host-slices.md):
 *
 *     const host = new HostSlices("host", { settings: config, privateKey: secrets.sshPrivateKey });
 *     new docker.Container("metamcp", { ..., cgroupParent: host.cgroupParent("app") },
 *                          { dependsOn: host.dependsOn("app") });
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Role } from "../containerSettings";
import { planSlices, slicesOf, type SlicePlan, type SliceSettings } from "./plan";
import { applyScript, deleteScript } from "./scripts";
import { sshConnection } from "./connection";
import { remoteCommand } from "./shell";

export interface HostSlicesArgs {
  /** The stack config (a StackConfig will do): host.slices, host.ssh and the containers' limits. */
  settings: SliceSettings;
  /** The `sshPrivateKey` secret. Required when host.slices.enabled is true; kept secret in state. */
  privateKey?: pulumi.Input<string>;
}

export class HostSlices extends pulumi.ComponentResource {
  /** The slices and limits declared; undefined when host.slices.enabled is false. */
  readonly plan: SlicePlan | undefined;
  /** One Command per unit, by unit name (parent first). Empty when disabled. */
  readonly commands: Record<string, command.remote.Command> = {};
  private readonly byRole: Partial<Record<Role, command.remote.Command>> = {};

  constructor(name: string, args: HostSlicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("metamcp-guard:host:HostSlices", name, {}, opts);
    const { settings } = args;
    this.plan = settings.host.slices.enabled ? planSlices(settings) : undefined;
    if (this.plan) {
      const connection = sshConnection("host.slices.enabled", settings.host.ssh, args.privateKey);
      const ssh = settings.host.ssh!; // sshConnection has refused a missing one
      let parentCommand: command.remote.Command | undefined;
      for (const spec of slicesOf(this.plan)) {
        const apply = remoteCommand(applyScript(spec, this.plan.stack), ssh.user);
        const cmd = new command.remote.Command(
          // The unit name is part of the resource name: renaming a slice creates the new unit and
          // deletes the old one, instead of an update that would leave the old file behind.
          `${name}-${spec.unit}`,
          {
            connection,
            create: apply,
            update: apply,
            delete: remoteCommand(deleteScript(spec.unit, this.plan.stack), ssh.user),
            // The scripts are complete in themselves; the previous run's output is only noise.
            addPreviousOutputInEnv: false,
            // The scripts print unit names and limits, never the key (which only the connection holds).
            logging: command.types.enums.remote.Logging.StdoutAndStderr,
          },
          {
            parent: this,
            // A connection change (host, user, key rotation) replaces the Command. Created first,
            // the old delete would run afterwards and remove the unit just written: delete first.
            // The delete script leaves a slice that still holds processes alone.
            deleteBeforeReplace: true,
            // Children after the parent (and deleted before it).
            dependsOn: parentCommand ? [parentCommand] : [],
          },
        );
        this.commands[spec.unit] = cmd;
        if (spec.role === "parent") parentCommand = cmd;
        else this.byRole[spec.role] = cmd;
      }
    }
    this.registerOutputs({
      units: this.plan ? slicesOf(this.plan).map((s) => s.unit) : [],
      cgroupParents: this.plan?.cgroupParents ?? {},
    });
  }

  /**
   * The container's `cgroupParent`, or undefined when slices are off. A plain string, not an
   * Output of a Command, so a replaced Command never forces a container replacement.
   */
  cgroupParent(role: Role): string | undefined {
    return this.plan?.cgroupParents[role];
  }

  /**
   * What the container must `dependsOn`: its slice's Command (which depends on the parent's).
   * The slice then exists before the container starts and is deleted only after it is gone.
   */
  dependsOn(role: Role): pulumi.Resource[] {
    const cmd = this.byRole[role];
    return cmd ? [cmd] : [];
  }
}
