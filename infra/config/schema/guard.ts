/**
 * The session guard (`metamcp-guard:guard`): a reverse proxy in front of MetaMCP that ends MCP
 * sessions nobody uses any more with the protocol's own DELETE, so MetaMCP closes their server groups
 * itself (guard/README.md). Its container's own limits here; its session settings are passed to
 * guard/ as environment variables (infra/guard/env.ts) and checked with the guard's own parser, so a
 * value the guard would refuse at start is refused at preview.
 */
import { z } from "zod";
import { DEFAULTS } from "../../../guard/src/contract";
import { guardSettingsProblems } from "../../guard/env";
import { flag, imageRef, restartPolicy, strictObject, wholeNumber } from "./fields";
import { limitsWithDefaults } from "./limits";

/** Text the guard's parser judges (30m, 1h30m, 7d): each problem is reported once, with its value. */
const guardDuration = z.string();

export const guardSchema = strictObject({
  /** Off: MetaMCP publishes its port itself, and abandoned sessions live until sessionLifetime. */
  enabled: flag.default(true),
  /** A prebuilt guard image; unset, the stack builds guard/Dockerfile on the Docker host. */
  image: imageRef.optional(),
  limits: limitsWithDefaults({ memory: "256m", cpus: 0.5, pids: 32 }),
  restart: restartPolicy.default("always"),
  /** A session with no request and no open stream for this long is ended with DELETE. */
  idleTimeout: guardDuration.default(DEFAULTS.idleTimeout),
  /** Sessions older than this are ended whatever they do; `off` for no bound (MetaMCP's sessionLifetime still applies). */
  maxLifetime: guardDuration.default("off"),
  /** How often the guard looks for idle and expired sessions. */
  sweepInterval: guardDuration.default(DEFAULTS.sweepInterval),
  /** One log line per proxied request (method, redacted path, status, time). */
  logRequests: flag.default(false),
  metrics: strictObject({
    /** /metrics and /healthz on the Docker host's 127.0.0.1; unset: app.port + 2. */
    hostPort: wholeNumber(1, 65_535).optional(),
  }).prefault({}),
}).superRefine((guard, ctx) => {
  for (const { path, message } of guardSettingsProblems(guard)) ctx.addIssue({ code: "custom", path, message });
});

export type GuardConfig = z.output<typeof guardSchema>;
