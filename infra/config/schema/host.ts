/**
 * Host-level settings (`metamcp-guard:host`): systemd slices that bind the containers'
 * processes where `docker update` cannot lift them, pushed over SSH.
 */
import { z } from "zod";
import { flag, strictObject, wholeNumber } from "./fields";

const sliceName = z
  .string()
  .regex(/^[a-zA-Z0-9_.\\:-]+\.slice$/, { message: "is not a slice unit name (such as metamcp.slice)" });

const sshSchema = strictObject({
  host: z.string().min(1, { message: "must name the host to connect to" }),
  port: wholeNumber(1, 65535).default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "is not a user name" }).default("root"),
  /** The host's public key line (as in known_hosts); pins the server so a stolen address cannot pose as it. */
  hostKey: z.string().min(1).optional(),
});

export const hostSchema = strictObject({
  slices: strictObject({
    enabled: flag.default(false),
    /** The parent slice that caps the whole deployment. */
    parent: sliceName.default("metamcp.slice"),
    /** Docker's cgroup driver on the host decides how cgroupParent is written. */
    cgroupDriver: z.enum(["systemd", "cgroupfs"], { message: "is not a cgroup driver; allowed: systemd, cgroupfs" }).default("systemd"),
    /** Extra room a slice gets above its container's limits, in percent. */
    headroomPercent: wholeNumber(0, 100).default(10),
  }).prefault({}),
  ssh: sshSchema.optional(),
});

export type HostConfig = z.output<typeof hostSchema>;
