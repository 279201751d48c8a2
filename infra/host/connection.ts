/**
 * The SSH connection every host Command uses (slices, monitor keeper): one place decides how
 * the key is held and how long an unreachable host may take to fail.
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { SshConfig } from "../config/schema/host";
import { hostKeyHint } from "../sshPin";

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
  // Without a pinned key, @pulumi/command accepts any host key: whatever answers on the address would be
  // sent root scripts and believed about the limits. The config refuses this already (sshPinProblems).
  if (!ssh.hostKey) throw new Error(`${feature} is true but host.ssh.hostKey is not set; get it with ${hostKeyHint(ssh.host, ssh.port)}`);
  return {
    host: ssh.host,
    port: ssh.port,
    user: ssh.user,
    // Secret whatever the caller passed, so the key is encrypted in state and masked in logs.
    privateKey: pulumi.secret(privateKey),
    hostKey: ssh.hostKey,
    // Fail in about a minute on an unreachable host, not after ten 15-second attempts.
    dialErrorLimit: 4,
    perDialTimeout: 15,
  };
}
