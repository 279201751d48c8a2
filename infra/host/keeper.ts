/**
 * MonitorKeeper: a systemd timer on the Docker host that starts the monitor container again when
 * Docker's restart policy gave up on it (see keeperUnits.ts for why that happens). One
 * `remote.Command` writes the script and both units; this file only declares it.
 *
 * A sibling of HostSlices rather than part of it: slices are limits that must exist *before* the
 * containers, the keeper a liveness check that must come *after* the monitor (and go before it on
 * delete, so it never starts a monitor being removed), with a switch of its own.
 *
 *     new MonitorKeeper("keeper", { settings: config, privateKey, dependsOn: [monitor] });
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { HostPushSettings } from "../config/schema/host";
import { sshConnection } from "./connection";
import { keeperApplyScript, keeperDeleteScript, keeperNames, type KeeperSpec } from "./keeperUnits";
import { remoteCommand } from "./shell";

/** The parts of the stack config the keeper is derived from; a StackConfig is one. */
export interface KeeperSettings extends HostPushSettings {
  stack: string;
}

export interface MonitorKeeperArgs {
  settings: KeeperSettings;
  /** containerName(config, "monitor") and containerName(config, "app"). */
  containers: { monitor: string; app: string };
  /** The `sshPrivateKey` secret; required when the keeper is on. */
  privateKey?: pulumi.Input<string>;
  /** The monitor's container: the keeper is created after it and deleted before it. */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The keeper's spec, or undefined when it is off or there is no monitor to keep. */
export function keeperSpecOf(settings: KeeperSettings, containers: MonitorKeeperArgs["containers"]): KeeperSpec | undefined {
  if (!settings.host.keeper.enabled || !settings.monitor.enabled) return undefined;
  return { stack: settings.stack, ...containers, intervalSeconds: settings.host.keeper.interval };
}

export class MonitorKeeper extends pulumi.ComponentResource {
  readonly spec: KeeperSpec | undefined;
  /** Undefined when the keeper is off. */
  readonly command: command.remote.Command | undefined;

  constructor(name: string, args: MonitorKeeperArgs, opts?: pulumi.ComponentResourceOptions) {
    super("metamcp-guard:host:MonitorKeeper", name, {}, opts);
    const { settings } = args;
    this.spec = keeperSpecOf(settings, args.containers);
    if (this.spec) {
      const connection = sshConnection("host.keeper.enabled", settings.host.ssh, args.privateKey);
      const user = settings.host.ssh!.user; // sshConnection has refused a missing one
      const apply = remoteCommand(keeperApplyScript(this.spec), user);
      this.command = new command.remote.Command(
        // The timer's name is part of the resource name: a renamed monitor gets new units and the
        // old ones are deleted, instead of an update that would leave them behind.
        `${name}-${keeperNames(this.spec).timer}`,
        {
          connection,
          create: apply,
          update: apply,
          delete: remoteCommand(keeperDeleteScript(this.spec), user),
          addPreviousOutputInEnv: false,
          logging: command.types.enums.remote.Logging.StdoutAndStderr,
        },
        // A connection change replaces the Command; created first, the old delete would remove the
        // units just written.
        { parent: this, deleteBeforeReplace: true, dependsOn: args.dependsOn ?? [] },
      );
    }
    this.registerOutputs({ timer: this.spec ? keeperNames(this.spec).timer : undefined });
  }
}
