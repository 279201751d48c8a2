/**
 * Environment variables → validated settings. A bad value stops the guard before it listens, with one
 * line per problem naming the variable, the value and what is allowed, so a typo in the stack never
 * turns into a guard that silently ends sessions on a default.
 *
 * The guard image is built from guard/ alone, so nothing here is imported from the stack or the monitor.
 */
import { z } from "zod";
import { DEFAULTS, ENV, type SettingName } from "./contract";

export interface Settings {
  /** The upstream origin, e.g. "http://metamcp:12008" (no path, no credentials). */
  upstream: string;
  listenHost: string;
  listenPort: number;
  idleTimeoutMs: number;
  /** 0 means no absolute lifetime. */
  maxLifetimeMs: number;
  sweepIntervalMs: number;
  deleteTimeoutMs: number;
  deleteAttempts: number;
  maxSessions: number;
  tcpKeepAliveMs: number;
  drainTimeoutMs: number;
  trustForwarded: boolean;
  logRequests: boolean;
  metricsHost: string;
  metricsPort: number;
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid guard settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Milliseconds for "0", "500ms", "90s", "30m", "1h30m", "7d"; undefined for anything else.
 * Parts run from the largest unit down, each at most once, as people write them.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(trimmed);
  if (!match || trimmed === "") return undefined;
  const [, d, h, m, s, ms] = match.map((part) => (part === undefined ? 0 : Number(part)));
  return d * UNIT_MS.d + h * UNIT_MS.h + m * UNIT_MS.m + s * UNIT_MS.s + ms * UNIT_MS.ms;
}

/** "1h30m" for 5_400_000: how a duration is shown back in messages and the start line. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  let rest = ms;
  let text = "";
  for (const unit of ["d", "h", "m", "s", "ms"] as const) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * UNIT_MS[unit];
  }
  return text;
}

/** A duration from minMs to maxMs; with `zeroTurnsOff`, "0" is allowed as well. */
function duration(minMs: number, maxMs: number, zeroTurnsOff = false) {
  const allowed = `${zeroTurnsOff ? "0 (off) or " : ""}${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a duration; write it like 500ms, 30s, 30m, 1h30m or 7d (allowed: ${allowed})` });
      return z.NEVER;
    }
    if (!(ms === 0 && zeroTurnsOff) && (ms < minMs || ms > maxMs)) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is out of range; allowed: ${allowed}` });
      return z.NEVER;
    }
    return ms;
  });
}

function count(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return value;
  });
}

const flag = z.string().transform((text, ctx) => {
  const word = text.trim().toLowerCase();
  if (word === "true" || word === "1" || word === "yes") return true;
  if (word === "false" || word === "0" || word === "no") return false;
  ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a boolean; write true or false` });
  return z.NEVER;
});

const address = z.string().transform((text, ctx) => {
  const trimmed = text.trim();
  if (/^(\d{1,3}\.){3}\d{1,3}$/.test(trimmed) || /^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$/.test(trimmed)) return trimmed;
  ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not an IP address (such as 0.0.0.0, 127.0.0.1 or ::)` });
  return z.NEVER;
});

/**
 * The upstream as an origin. A path, query or credentials in it are refused rather than dropped: the
 * guard forwards request paths as they are and replays each session's own credentials.
 */
const upstream = z.string().transform((text, ctx) => {
  const problem = upstreamProblem(text.trim());
  if (problem) {
    ctx.addIssue({ code: "custom", message: problem });
    return z.NEVER;
  }
  return new URL(text.trim()).origin;
});

function upstreamProblem(text: string): string | undefined {
  const example = "such as http://metamcp:12008";
  if (text === "") return `is required: MetaMCP's address as an http:// URL, ${example}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not a URL; write MetaMCP's address as an http:// URL, ${example}`;
  }
  // Never echo a value that carries credentials.
  if (url.username || url.password) return `must not contain credentials (user:password@); write ${example}`;
  if (url.protocol !== "http:") return `${JSON.stringify(text)} must use http:// (MetaMCP serves plain HTTP inside the stack), ${example}`;
  if (url.pathname !== "/" || url.search || url.hash) return `${JSON.stringify(text)} must be an origin without a path, query or fragment, ${example}`;
  return undefined;
}

/** One schema per setting; the keys are the contract's setting names, the messages name the variable. */
const fields = {
  upstream,
  listenHost: address,
  listenPort: count(1, 65_535),
  idleTimeout: duration(100, 7 * UNIT_MS.d),
  maxLifetime: duration(1_000, 30 * UNIT_MS.d, true),
  sweepInterval: duration(100, UNIT_MS.h),
  deleteTimeout: duration(100, 5 * UNIT_MS.m),
  deleteAttempts: count(1, 100),
  maxSessions: count(1, 1_000_000),
  tcpKeepAlive: duration(1_000, 2 * UNIT_MS.h),
  drainTimeout: duration(0, 5 * UNIT_MS.m),
  trustForwarded: flag,
  logRequests: flag,
  metricsHost: address,
  metricsPort: count(1, 65_535),
} satisfies Record<SettingName, z.ZodType<unknown, string>>;

/** The settings, or a SettingsError listing every bad variable. Unset and empty variables take their defaults. */
export function loadSettings(env: Readonly<Record<string, string | undefined>>): Settings {
  const problems: string[] = [];
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(fields) as SettingName[]) {
    const raw = env[ENV[name]];
    const text = raw === undefined || raw.trim() === "" ? DEFAULTS[name] : raw;
    const result = fields[name].safeParse(text);
    if (result.success) values[name] = result.data;
    else problems.push(...result.error.issues.map((issue) => `${ENV[name]}: ${issue.message}`));
  }
  if (problems.length > 0) throw new SettingsError(problems);
  const v = values as { [K in SettingName]: z.output<(typeof fields)[K]> };
  if (v.listenPort === v.metricsPort) {
    throw new SettingsError([
      `${ENV.metricsPort}: ${v.metricsPort} is also ${ENV.listenPort}; /metrics and /healthz must have a port of their own, never the proxied one`,
    ]);
  }
  return {
    upstream: v.upstream,
    listenHost: v.listenHost,
    listenPort: v.listenPort,
    idleTimeoutMs: v.idleTimeout,
    maxLifetimeMs: v.maxLifetime,
    sweepIntervalMs: v.sweepInterval,
    deleteTimeoutMs: v.deleteTimeout,
    deleteAttempts: v.deleteAttempts,
    maxSessions: v.maxSessions,
    tcpKeepAliveMs: v.tcpKeepAlive,
    drainTimeoutMs: v.drainTimeout,
    trustForwarded: v.trustForwarded,
    logRequests: v.logRequests,
    metricsHost: v.metricsHost,
    metricsPort: v.metricsPort,
  };
}
