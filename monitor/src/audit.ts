/**
 * The audit log: one JSON object per line on stdout, so `docker logs` keeps it and any log shipper
 * can parse it. Every line has `ts` and `event`; the record builders are pure so tests check fields.
 *
 * Command lines reach these records already redacted (tree.ts shows them through redact.ts), and
 * writeRecord redacts every string once more on the way out, so a field added later, or an error
 * message quoting a command line, cannot carry a secret into `docker logs` either.
 */
import type { Settings } from "./config";
import type { Decision } from "./policy";
import type { ReapResult } from "./reaper";
import { redactCommandLine } from "./redact";
import type { Zombie } from "./tree";

export type AuditRecord = { ts: string; event: string } & Record<string, unknown>;

export type Write = (line: string) => void;

export function writeRecord(write: Write, record: AuditRecord): void {
  write(`${JSON.stringify(redactStrings(record))}\n`);
}

/** Every string in a record, at any depth, through the command-line redactor (idempotent on redacted text). */
export function redactStrings<T>(value: T): T {
  if (typeof value === "string") return redactCommandLine(value) as T;
  if (Array.isArray(value)) return value.map(redactStrings) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactStrings(v)])) as T;
  }
  return value;
}

/** The line for one reap decision, written once its outcome is known. */
export function reapRecord(at: Date, decision: Decision, result: ReapResult, dryRun: boolean): AuditRecord {
  const { group } = decision;
  return {
    ts: at.toISOString(),
    event: "reap",
    pid: group.leader?.pid ?? group.members[0]?.pid,
    pgid: group.pgids.length === 1 ? group.pgids[0] : group.pgids,
    sid: group.sid,
    cmdline: group.cmdline,
    members: group.members.length,
    ...(group.sessions.length > 1 ? { sessions: group.sessions } : {}),
    state: group.state,
    ageSeconds: Math.round(group.ageSeconds),
    rssBytes: group.rssBytes,
    ...(group.anonymousBytes !== undefined ? { anonymousBytes: group.anonymousBytes } : {}),
    reason: decision.reason,
    detail: decision.detail,
    signal: result.signals.at(-1) ?? null,
    signals: result.signals,
    outcome: result.outcome,
    ...(result.error ? { error: result.error } : {}),
    dryRun,
    durationMs: Math.round(result.durationMs),
  };
}

/** Zombies are reported once each: only their parent (or PID 1 once the parent exits) can collect them. */
export function zombieRecord(at: Date, zombie: Zombie): AuditRecord {
  return { ts: at.toISOString(), event: "zombie", ...zombie };
}

export function startRecord(at: Date, settings: Settings, details: Record<string, unknown>): AuditRecord {
  return {
    ts: at.toISOString(),
    event: "start",
    settings: {
      ...settings,
      mcpPatterns: settings.mcpPatterns.map((p) => p.source),
      mainPattern: settings.mainPattern.source,
    },
    ...details,
  };
}

export function eventRecord(at: Date, event: string, fields: Record<string, unknown>): AuditRecord {
  return { ts: at.toISOString(), event, ...fields };
}
