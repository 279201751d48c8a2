/**
 * Host-level settings (`metamcp-guard:host`), pushed to the Docker host over SSH: systemd slices
 * that bind the containers' processes where `docker update` cannot lift them, and the monitor
 * keeper (a timer that starts the monitor again when Docker's restart policy gave up on it).
 */
import { z } from "zod";
import { flag, strictObject, wholeNumber } from "./fields";

/**
 * A slice unit name systemd accepts and nests predictably: systemd places `a-b.slice` inside
 * `a.slice`, so dashes may not lead, trail or repeat (the child slices are `<stem>-<role>.slice`).
 * Backslash escapes are refused: they would make the cgroupfs path differ from the name.
 */
const sliceName = z
  .string()
  .max(200, { message: "is too long for a slice name" })
  .regex(/^[a-zA-Z0-9_.:]+(-[a-zA-Z0-9_.:]+)*\.slice$/, {
    message: "is not a slice unit name (such as metamcp.slice; no leading, trailing or double '-')",
  });

/**
 * A host public key as `ssh-keyscan` or known_hosts show it (`ssh-ed25519 AAAA… [comment]`,
 * optionally with the host names in front). Kept as `type base64`, the form the SSH provider
 * pins against and the verify command writes into a known_hosts file.
 */
const hostKey = z.string().transform((text, ctx) => {
  const fields = text.trim().split(/\s+/);
  const at = fields.findIndex((field) => /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+)$/.test(field));
  if (at < 0 || !/^[A-Za-z0-9+/]+=*$/.test(fields[at + 1] ?? "")) {
    ctx.addIssue({
      code: "custom",
      message: "is not an SSH public host key; write the line `ssh-keyscan -t ed25519 <host>` prints (such as ssh-ed25519 AAAA…)",
    });
    return z.NEVER;
  }
  return `${fields[at]} ${fields[at + 1]}`;
});

const sshSchema = strictObject({
  host: z.string().regex(/^[A-Za-z0-9.:_-]+$/, { message: "must name the host to connect to (a DNS name or an IP address)" }),
  port: wholeNumber(1, 65535).default(22),
  /** Not root: the scripts run under `sudo -n`, so the user needs passwordless sudo. */
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "is not a user name" }).default("root"),
  /** The host's public key; pins the server so a stolen address cannot pose as it. */
  hostKey: hostKey.optional(),
});

/**
 * How often the keeper looks: whole seconds, written `10s`, `1m`. Above a minute the monitor
 * could stay down for longer than the leaks it exists to catch take to matter.
 */
const keeperInterval = z.string().transform((text, ctx) => {
  const match = /^(\d+)(s|m)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * (match[2] === "m" ? 60 : 1) : NaN;
  if (!(seconds >= 2 && seconds <= 60)) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not an interval from 2s to 1m (such as 10s)` });
    return z.NEVER;
  }
  return seconds;
});

export const hostSchema = strictObject({
  slices: strictObject({
    enabled: flag.default(false),
    /** The parent slice that caps the whole deployment; children are `<stem>-app.slice` and so on. */
    parent: sliceName.default("metamcp.slice"),
    /** Docker's cgroup driver on the host decides how cgroupParent is written. */
    cgroupDriver: z.enum(["systemd", "cgroupfs"], { message: "is not a cgroup driver; allowed: systemd, cgroupfs" }).default("systemd"),
    /** Extra room a slice gets above its container's limits, in percent. */
    headroomPercent: wholeNumber(0, 100).default(10),
  }).prefault({}),
  /**
   * The monitor keeper. Unset `enabled` means "on wherever the stack has a host to push to"
   * (`host.ssh` set): a stack deploying to a local engine with no SSH settings gets no keeper
   * and needs no key, while one that names its host gets the keeper without asking.
   */
  keeper: strictObject({
    enabled: flag.optional(),
    interval: keeperInterval.default(10),
  }).prefault({}),
  ssh: sshSchema.optional(),
}).transform((host) => ({ ...host, keeper: { ...host.keeper, enabled: host.keeper.enabled ?? host.ssh !== undefined } }));

export type HostConfig = z.output<typeof hostSchema>;
export type KeeperConfig = HostConfig["keeper"];

/** The settings that decide what is pushed to the host; a StackConfig is one. */
export interface HostPushSettings {
  host: HostConfig;
  monitor: { enabled: boolean };
}

/**
 * The features that write to the host, each as its config key: these need `host.ssh` and the
 * `sshPrivateKey` secret. The keeper pushes nothing when there is no monitor to keep.
 */
export function hostPushers(settings: HostPushSettings): string[] {
  return [
    ...(settings.host.slices.enabled ? ["host.slices.enabled"] : []),
    ...(settings.host.keeper.enabled && settings.monitor.enabled ? ["host.keeper.enabled"] : []),
  ];
}
export type SshConfig = z.output<typeof sshSchema>;
