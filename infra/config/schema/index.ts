/**
 * The whole stack config: one key per part, each part in its own module. Secrets are not
 * here; they are separate top-level keys (see ../secrets.ts) so they can be set with
 * `pulumi config set --secret`.
 */
import { z } from "zod";
import { appSchema } from "./app";
import { databaseSchema } from "./database";
import { dockerHost } from "./dockerHost";
import { flag, namePrefix, strictObject } from "./fields";
import { hostPushers, hostSchema, sshPinProblems } from "./host";
import { guardSchema } from "./guard";
import { loggingSchema } from "./logging";
import { monitorSchema } from "./monitor";
import { proxySchema } from "./proxy";
import { SECRET_KEYS } from "../secrets";
import { hostKeyHint } from "../../sshPin";

export const settingsSchema = strictObject({
  /** The Docker engine to deploy to: unix:///path, ssh://user@host, or tcp://127.0.0.1:port. */
  dockerHost: dockerHost.default("unix:///var/run/docker.sock"),
  /** Prefix of every container, volume, network and host unit name; defaults to metamcp-<stack>. */
  namePrefix: namePrefix.optional(),
  /**
   * A production stack: every image pinned (refused at preview otherwise), and the policy pack's
   * production rules apply (containers carry the label metamcp-guard.production=true).
   */
  production: flag.default(false),
  /** Protect the Postgres volume: `pulumi destroy` refuses, and deleting it from the program keeps it on the host. */
  protectData: flag.default(true),
  app: appSchema,
  database: databaseSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  proxy: proxySchema.optional(),
  monitor: monitorSchema.prefault({}),
  guard: guardSchema.prefault({}),
  host: hostSchema.prefault({}),
}, SECRET_KEYS).superRefine((settings, ctx) => {
  const pushers = hostPushers(settings);
  if (pushers.length > 0 && !settings.host.ssh) {
    ctx.addIssue({
      code: "custom",
      path: ["host", "ssh"],
      message: `is required when ${pushers.join(" or ")} is true: the host's name and its pinned hostKey (${hostKeyHint()})`,
    });
  }
  for (const { path, message } of sshPinProblems(settings)) ctx.addIssue({ code: "custom", path, message });
});

export type SettingsInput = z.input<typeof settingsSchema>;
export type ParsedSettings = z.output<typeof settingsSchema>;
