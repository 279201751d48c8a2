/** Settings of the MetaMCP container (`metamcp-guard:app`). */
import { z } from "zod";
import type { CapacityInput } from "../../capacity";
import { MAX_MAX_ATTEMPTS, MAX_SESSION_LIFETIME_MS, MIN_MAX_ATTEMPTS, MIN_SESSION_LIFETIME_MS } from "../../metamcpSettings/settings";
import { duration, durationMs, envName, flag, imageRef, ipAddress, positiveDuration, restartPolicy, strictObject, wholeNumber } from "./fields";
import { appLimitsSchema } from "./limits";

export const DEFAULT_METAMCP_IMAGE = "ghcr.io/metatool-ai/metamcp:2.4.22";
/** MetaMCP listens here inside its container. */
export const METAMCP_PORT = 12008;

/**
 * Variables the stack composes itself (from secrets and the database settings). Setting them
 * in `app.env` would put a secret in plain text or fight the stack, so they are refused.
 */
export const MANAGED_ENV = [
  "BETTER_AUTH_SECRET",
  "DATABASE_URL",
  "POSTGRES_PASSWORD",
  "POSTGRES_USER",
  "POSTGRES_DB",
  "POSTGRES_HOST",
  "POSTGRES_PORT",
  "APP_URL",
  "NEXT_PUBLIC_APP_URL",
] as const;

/**
 * MetaMCP settings that newer MetaMCP versions also read from the environment; 2.4.22 reads them only
 * from its database, where the stack writes them from app.settings.
 */
const SETTINGS_IN_ENV: Record<string, string> = {
  SESSION_LIFETIME: "app.settings.sessionLifetime",
  MCP_MAX_ATTEMPTS: "app.settings.maxAttempts",
};

const healthcheckSchema = strictObject({
  interval: positiveDuration.default("30s"),
  timeout: positiveDuration.default("5s"),
  retries: wholeNumber(1, 100).default(3),
  startPeriod: duration.default("60s"),
});

/** The URL people reach MetaMCP at: http or https with a host, as MetaMCP builds its links from it. */
const publicUrl = z.string().refine(
  (text) => {
    try {
      const url = new URL(text);
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
    } catch {
      return false;
    }
  },
  { error: (issue) => `${JSON.stringify(issue.input)} is not an http(s) URL with a host (such as https://mcp.example.com)` },
);

/** What `app.capacity` means when a stack file leaves it out: two sessions on one namespace of two servers. */
export const DEFAULT_CAPACITY = { sessions: 2, serversPerNamespace: 2, namespaces: 1 } as const;

/**
 * How much MetaMCP must hold, in the operator's terms: either `groups` (MCP server process groups alive at
 * once) or `sessions` × `serversPerNamespace` (with `namespaces` idle sets MetaMCP keeps ready). The PID cap
 * and memory are derived from it (infra/capacity.ts) when app.limits leaves them out.
 */
const capacitySchema = strictObject({
  groups: wholeNumber(1, 1000).optional(),
  sessions: wholeNumber(0, 1000).optional(),
  serversPerNamespace: wholeNumber(1, 100).optional(),
  namespaces: wholeNumber(1, 100).optional(),
}).transform((capacity, ctx): CapacityInput => {
  const { groups, ...bySessions } = capacity;
  if (groups === undefined) return { ...DEFAULT_CAPACITY, ...bySessions };
  const mixed = Object.keys(bySessions);
  if (mixed.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["groups"],
      message: `cannot be combined with ${mixed.join(", ")}; give either groups or sessions and serversPerNamespace`,
    });
    return z.NEVER;
  }
  return { groups };
});

/**
 * MetaMCP's own settings, which it keeps in its database's `config` table (its UI's settings page);
 * the stack writes them there and reads them back (infra/metamcpSettings/).
 */
const settingsSchema = strictObject({
  /**
   * SESSION_LIFETIME: MetaMCP ends a session this long after it began, whatever its use. A backstop behind
   * the session guard's idle timeout; `off` leaves sessions unbounded (MetaMCP's own default). MetaMCP's
   * own bounds: 5m to 24h.
   */
  sessionLifetime: z.union([z.literal("off"), durationMs(MIN_SESSION_LIFETIME_MS, MAX_SESSION_LIFETIME_MS)]).default(MAX_SESSION_LIFETIME_MS),
  /**
   * MCP_MAX_ATTEMPTS: crashes of a server (per MetaMCP process lifetime) before MetaMCP marks it ERROR for
   * every client. MetaMCP's own default of 1 turns any one killed process into an outage.
   */
  maxAttempts: wholeNumber(MIN_MAX_ATTEMPTS, MAX_MAX_ATTEMPTS).default(3),
});

export const appSchema = strictObject({
  image: imageRef.default(DEFAULT_METAMCP_IMAGE),
  /** Host address the port is published on; 127.0.0.1 keeps it off the network. */
  bindAddress: ipAddress.default("127.0.0.1"),
  port: wholeNumber(1, 65535).default(METAMCP_PORT),
  /** The URL people reach MetaMCP at (APP_URL); defaults to http://localhost:<port>. */
  publicUrl: publicUrl.optional(),
  /** How much MetaMCP must hold; app.limits.pids and memory are derived from it when left out. */
  capacity: capacitySchema.prefault({}),
  limits: appLimitsSchema,
  /** MetaMCP's own settings (its database's config table). */
  settings: settingsSchema.prefault({}),
  restart: restartPolicy.default("unless-stopped"),
  /** Plain, non-secret environment for MetaMCP, e.g. TRANSFORM_LOCALHOST_TO_DOCKER_INTERNAL. */
  env: z
    .record(envName, z.string({ message: "must be text; quote numbers and booleans" }))
    .superRefine((env, ctx) => {
      for (const name of Object.keys(env)) {
        if ((MANAGED_ENV as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: "is set by the stack; use the secrets authSecret/postgresPassword/databaseUrl or app.publicUrl instead",
          });
        } else if (name in SETTINGS_IN_ENV) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `is not read from the environment by MetaMCP 2.4.22; set ${SETTINGS_IN_ENV[name]} instead`,
          });
        }
      }
    })
    .default({}),
  healthcheck: healthcheckSchema.prefault({}),
  /** Tini as PID 1 reaps zombies; turning it off is allowed only for debugging. */
  init: flag.default(true),
});

export type AppConfig = z.output<typeof appSchema>;
