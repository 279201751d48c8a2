/**
 * The session guard's environment contract: every variable it reads and the default each one takes.
 *
 * Imported by both sides: guard/src/config.ts parses these variables, and the stack writes them.
 * Keeping the names and defaults in one place means the stack and the program cannot disagree on a
 * spelling or on what "unset" means. It must stay free of imports so the stack can load it without
 * pulling in the guard.
 */

export const ENV = {
  /** Where MetaMCP answers, as an http:// origin, e.g. "http://metamcp:12008". Required. */
  upstream: "GUARD_UPSTREAM",
  /** Address the proxy listens on. */
  listenHost: "GUARD_LISTEN_HOST",
  /** Port the proxy listens on (the port clients use for MetaMCP). */
  listenPort: "GUARD_LISTEN_PORT",
  /** A session with no request and no open stream for this long is ended with DELETE, e.g. "30m". */
  idleTimeout: "GUARD_IDLE_TIMEOUT",
  /** A session older than this is ended with DELETE whatever it is doing; "0" turns it off. */
  maxLifetime: "GUARD_MAX_LIFETIME",
  /** Time between sweeps for idle and expired sessions, e.g. "30s". */
  sweepInterval: "GUARD_SWEEP_INTERVAL",
  /** How long the guard waits for MetaMCP to answer one DELETE, e.g. "10s". */
  deleteTimeout: "GUARD_DELETE_TIMEOUT",
  /** DELETE attempts (one per sweep) before a session MetaMCP keeps failing to end is forgotten. */
  deleteAttempts: "GUARD_DELETE_ATTEMPTS",
  /** Most sessions tracked at once; sessions beyond it are forwarded but not tracked (and counted). */
  maxSessions: "GUARD_MAX_SESSIONS",
  /** Idle time before the first TCP keep-alive probe on client connections, e.g. "60s". */
  tcpKeepAlive: "GUARD_TCP_KEEPALIVE",
  /** On SIGTERM, how long open requests and streams may take to finish before they are cut, e.g. "5s". */
  drainTimeout: "GUARD_DRAIN_TIMEOUT",
  /** "true": keep the client's X-Forwarded-Proto/-Host and append to its X-Forwarded-For (behind a proxy you trust). */
  trustForwarded: "GUARD_TRUST_FORWARDED",
  /** "true": one log line per proxied request (method, redacted path, status, duration). */
  logRequests: "GUARD_LOG_REQUESTS",
  /** Address the /metrics and /healthz server listens on. */
  metricsHost: "GUARD_METRICS_HOST",
  /** Port of the /metrics and /healthz server (never the proxied port). */
  metricsPort: "GUARD_METRICS_PORT",
} as const;

export type SettingName = keyof typeof ENV;

/**
 * Defaults as the text a variable would hold, so one parser handles set and unset variables alike.
 * The upstream has none: the guard refuses to start without it.
 */
export const DEFAULTS: Record<SettingName, string> = {
  upstream: "",
  listenHost: "0.0.0.0",
  listenPort: "12008",
  idleTimeout: "30m",
  maxLifetime: "0",
  sweepInterval: "30s",
  deleteTimeout: "10s",
  deleteAttempts: "5",
  maxSessions: "10000",
  tcpKeepAlive: "60s",
  drainTimeout: "5s",
  trustForwarded: "false",
  logRequests: "false",
  metricsHost: "0.0.0.0",
  metricsPort: "9465",
};
