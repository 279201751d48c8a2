/** Settings of the MetaMCP container (`metamcp-guard:app`). */
import { z } from "zod";
import { duration, envName, flag, imageRef, restartPolicy, strictObject, wholeNumber } from "./fields";
import { limitsSchema } from "./limits";

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

const healthcheckSchema = strictObject({
  interval: duration.default("30s"),
  timeout: duration.default("5s"),
  retries: wholeNumber(1, 100).default(3),
  startPeriod: duration.default("60s"),
});

const ipAddress = z
  .string()
  .refine((text) => /^(\d{1,3}\.){3}\d{1,3}$/.test(text) || /^[0-9a-fA-F:]+$/.test(text), {
    message: "is not an IP address (such as 127.0.0.1 or 0.0.0.0)",
  });

export const appSchema = strictObject({
  image: imageRef.default(DEFAULT_METAMCP_IMAGE),
  /** Host address the port is published on; 127.0.0.1 keeps it off the network. */
  bindAddress: ipAddress.default("127.0.0.1"),
  port: wholeNumber(1, 65535).default(METAMCP_PORT),
  /** The URL people reach MetaMCP at (APP_URL); defaults to http://localhost:<port>. */
  publicUrl: z.url({ message: "is not a URL (such as https://mcp.example.com)" }).optional(),
  limits: limitsSchema,
  restart: restartPolicy.default("unless-stopped"),
  /** Plain, non-secret environment for MetaMCP, e.g. SESSION_LIFETIME. */
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
        }
      }
    })
    .default({}),
  healthcheck: healthcheckSchema.prefault({}),
  /** Tini as PID 1 reaps zombies; turning it off is allowed only for debugging. */
  init: flag.default(true),
});

export type AppConfig = z.output<typeof appSchema>;
