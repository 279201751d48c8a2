/**
 * The guard's log: one JSON object per line on stdout (`ts`, `level`, `event`, then the event's
 * fields), so `docker logs` keeps it and any shipper parses it. Builders are pure; whatever reaches
 * them about a request has been through redact.ts first.
 */
import type { Settings } from "./config";
import { formatDuration } from "./config";
import { redactTarget, shortId } from "./redact";
import type { DeleteResult, ForgetReason, Session } from "./sessions";

export type Level = "info" | "warn" | "error";
export type Write = (line: string) => void;

export function logLine(at: Date, level: Level, event: string, fields: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ts: at.toISOString(), level, event, ...fields })}\n`;
}

/** The settings as the start line shows them: durations in their written form, nothing secret (there is none). */
export function startFields(settings: Settings): Record<string, unknown> {
  return {
    upstream: settings.upstream,
    listen: `${settings.listenHost}:${settings.listenPort}`,
    metrics: `${settings.metricsHost}:${settings.metricsPort}`,
    idleTimeout: formatDuration(settings.idleTimeoutMs),
    maxLifetime: formatDuration(settings.maxLifetimeMs),
    sweepInterval: formatDuration(settings.sweepIntervalMs),
    deleteTimeout: formatDuration(settings.deleteTimeoutMs),
    deleteAttempts: settings.deleteAttempts,
    maxSessions: settings.maxSessions,
    tcpKeepAlive: formatDuration(settings.tcpKeepAliveMs),
    drainTimeout: formatDuration(settings.drainTimeoutMs),
    trustForwarded: settings.trustForwarded,
    logRequests: settings.logRequests,
  };
}

/** Who a session is, for any line about it: a shortened id, its endpoint path, where the guard found it. */
export function sessionFields(session: Session, now: number): Record<string, unknown> {
  return {
    session: shortId(session.id),
    path: redactTarget(session.path),
    origin: session.origin,
    ageSeconds: seconds(now - session.createdAt),
    idleSeconds: seconds(now - session.lastActivityAt),
    openStreams: session.openStreams,
  };
}

export function endedFields(session: Session, reason: ForgetReason, now: number, result?: DeleteResult): Record<string, unknown> {
  return { ...sessionFields(session, now), reason, ...(result ? { delete: describeResult(result) } : {}) };
}

export function describeResult(result: DeleteResult): string {
  return "status" in result ? `HTTP ${result.status}` : `${result.error}: ${result.message}`;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
