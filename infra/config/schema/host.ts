/**
 * Host-level settings (`metamcp-guard:host`): systemd slices that bind the containers'
 * processes where `docker update` cannot lift them, pushed over SSH.
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
  ssh: sshSchema.optional(),
});

export type HostConfig = z.output<typeof hostSchema>;
export type SshConfig = z.output<typeof sshSchema>;
