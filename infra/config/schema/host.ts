/**
 * Host-level settings (`metamcp-guard:host`), pushed to the Docker host over SSH: systemd slices
 * that bind the containers' processes where `docker update` cannot lift them, and the monitor
 * keeper (a timer that starts the monitor again when Docker's restart policy gave up on it).
 */
import { z } from "zod";
import { parseDockerHost } from "../../dockerEngine/transport";
import { hostKeyHint } from "../../sshPin";
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

/** Why `host.ssh.host` cannot be used, or undefined (pure). */
function sshHostProblem(text: string): string | undefined {
  // ssh would read `-oProxyCommand=…` as an option, however it is passed: said first, whatever else is wrong.
  if (text.startsWith("-")) return `${JSON.stringify(text)} starts with '-', which ssh reads as an option; write a DNS name or an IP address`;
  if (!/^[A-Za-z0-9.:_-]+$/.test(text)) return `${JSON.stringify(text)} must name the host to connect to (a DNS name or an IP address)`;
  return undefined;
}

const sshSchema = strictObject({
  host: z.string().refine((text) => sshHostProblem(text) === undefined, { error: (issue) => sshHostProblem(String(issue.input)) }),
  port: wholeNumber(1, 65535).default(22),
  /** Not root: the scripts run under `sudo -n`, so the user needs passwordless sudo. */
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "is not a user name" }).default("root"),
  /**
   * The host's public key; pins the server so a stolen address cannot pose as it. Required whenever the stack
   * reaches the host over SSH (sshPinProblems): every SSH connection checks this key and no other.
   */
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
    /**
     * The parent slice that caps the whole deployment; children are `<stem>-app.slice` and so on. Unset, it
     * is `<namePrefix>.slice`; set, it must still be the stack's own (host/names.ts, sliceOwnershipProblems).
     */
    parent: sliceName.optional(),
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
/** The host settings with the parent slice resolved (what StackConfig carries). */
export type ResolvedHostConfig = Omit<HostConfig, "slices"> & { slices: HostConfig["slices"] & { parent: string } };
export type KeeperConfig = HostConfig["keeper"];

/** The settings that decide what is pushed to the host; a StackConfig is one. */
export interface HostPushSettings {
  host: Pick<HostConfig, "slices" | "keeper" | "ssh">;
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

/** A config problem at a path under `metamcp-guard:`, for the schema's superRefine. */
export interface PathProblem {
  path: string[];
  message: string;
}

/**
 * Where the stack reaches its host over SSH without a pinned host key (pure). Anything pushed over SSH
 * (slices, the keeper) and an ssh:// dockerHost (the Docker provider, PidsLimit, MetaMcpSettings, verify) all
 * check `host.ssh.hostKey`: one machine, one key, so an ssh:// dockerHost takes its pin from host.ssh too.
 */
export function sshPinProblems(settings: HostPushSettings & { dockerHost: string }): PathProblem[] {
  const pushers = hostPushers(settings);
  let dockerSsh: { host: string; port?: number } | undefined;
  try {
    const parsed = parseDockerHost(settings.dockerHost);
    if (parsed.kind === "ssh") dockerSsh = parsed;
  } catch {
    // The dockerHost's own check reports it.
  }
  const reasons = [
    ...(pushers.length > 0 ? [`${pushers.join(" or ")} is true`] : []),
    ...(dockerSsh ? [`dockerHost is ${settings.dockerHost}`] : []),
  ];
  if (reasons.length === 0) return [];
  const when = `is required when ${reasons.join(", or when ")}`;
  const ssh = settings.host.ssh;
  if (!ssh) {
    // With no host.ssh at all, a pusher's own "host.ssh is required" says the rest; say why an ssh://
    // dockerHost needs it.
    if (!dockerSsh || pushers.length > 0) return [];
    return [{
      path: ["host", "ssh"],
      message:
        `${when}: its hostKey pins the Docker host's SSH key for every connection (set host.ssh.host, and host.ssh.hostKey ` +
        `to what ${hostKeyHint(dockerSsh.host, dockerSsh.port ?? 22)} prints)`,
    }];
  }
  if (ssh.hostKey) return [];
  return [{
    path: ["host", "ssh", "hostKey"],
    message: `${when}: every SSH connection to the host checks this key and no other; get it with ${hostKeyHint(ssh.host, ssh.port)}`,
  }];
}

/** The pinned key for the stack's ssh:// dockerHost, or undefined for a unix:// or tcp:// one (pure). */
export function dockerHostKey(settings: { dockerHost: string; host: Pick<HostConfig, "ssh"> }): string | undefined {
  return parseDockerHost(settings.dockerHost).kind === "ssh" ? settings.host.ssh?.hostKey : undefined;
}

/**
 * known_hosts lines that pin the stack's key to the names it reaches its host by (host.ssh's, and an
 * ssh:// dockerHost's), for the CI runner's known_hosts; none when the stack uses no SSH (pure). Throws
 * when it uses SSH without a pin, as the config does.
 */
export function pinnedKnownHostsLines(settings: { dockerHost: string; host: Pick<HostConfig, "ssh"> }): string[] {
  const names = new Set<string>();
  const name = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`);
  const docker = parseDockerHost(settings.dockerHost);
  if (docker.kind === "ssh") names.add(name(docker.host, docker.port ?? 22));
  const ssh = settings.host.ssh;
  if (ssh) names.add(name(ssh.host, ssh.port));
  if (names.size === 0) return [];
  if (!ssh?.hostKey) {
    const host = ssh?.host ?? (docker.kind === "ssh" ? docker.host : undefined);
    throw new Error(`the stack reaches ${[...names].join(" and ")} over SSH but pins no host.ssh.hostKey; get it with ${hostKeyHint(host)}`);
  }
  return [...names].map((n) => `${n} ${ssh.hostKey}`);
}
