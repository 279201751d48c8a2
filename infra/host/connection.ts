/**
 * The SSH connection every host Command uses (slices, monitor keeper): one place decides how
 * the key is held and how long an unreachable host may take to fail.
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { SshConfig } from "../config/schema/host";

/**
 * `feature` is the config key that asked for the push (`host.slices.enabled`), so a missing
 * setting is reported against the switch the operator turned on.
 */
export function sshConnection(
  feature: string,
  ssh: SshConfig | undefined,
  privateKey: pulumi.Input<string> | undefined,
): command.types.input.remote.ConnectionArgs {
  if (!ssh) throw new Error(`${feature} is true but host.ssh is not set`);
  if (privateKey === undefined) throw new Error(`${feature} is true but no sshPrivateKey was given`);
  return {
    host: ssh.host,
    port: ssh.port,
    user: ssh.user,
    // Secret whatever the caller passed, so the key is encrypted in state and masked in logs.
    privateKey: pulumi.secret(privateKey),
    ...(ssh.hostKey ? { hostKey: ssh.hostKey } : {}),
    // Fail in about a minute on an unreachable host, not after ten 15-second attempts.
    dialErrorLimit: 4,
    perDialTimeout: 15,
  };
}
