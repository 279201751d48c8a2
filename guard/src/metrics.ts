/**
 * Prometheus text exposition (format 0.0.4) of the guard's counters and gauges, and the small HTTP
 * server that serves it with /healthz on a port of its own. Rendering is a pure function of a
 * MetricsView. Labels hold only fixed words (reasons, methods, status classes, error codes): never a
 * path, a session id or anything a client sent.
 */
import * as http from "node:http";
import {
  DELETE_RESULTS,
  FORGET_REASONS,
  SESSION_ORIGINS,
  type DeleteResultKind,
  type ForgetReason,
  type SessionOrigin,
} from "./sessions";

const PREFIX = "metamcp_guard";

export const REFUSED_KINDS = ["request", "upgrade"] as const;
export type RefusedKind = (typeof REFUSED_KINDS)[number];

export interface Counters {
  started: Record<SessionOrigin, number>;
  ended: Record<ForgetReason, number>;
  /** Sessions forwarded but not tracked because the table was full. */
  untracked: number;
  /** Requests by method and status class, keyed "METHOD 2xx". */
  requests: Map<string, number>;
  /** Requests MetaMCP could not be reached for, by error code. */
  upstreamErrors: Map<string, number>;
  /** Requests and upgrades refused with a target that is not a URL path (see requestTarget.ts). */
  refusedTargets: Record<RefusedKind, number>;
  deletes: Record<DeleteResultKind, number>;
}

export function emptyCounters(): Counters {
  return {
    started: zeroes(SESSION_ORIGINS),
    ended: zeroes(FORGET_REASONS),
    untracked: 0,
    requests: new Map(),
    upstreamErrors: new Map(),
    refusedTargets: zeroes(REFUSED_KINDS),
    deletes: zeroes(DELETE_RESULTS),
  };
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

export function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

const METHODS = new Set(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]);

/** The requests_total key: a known method (anything else is OTHER) and the class of the status sent. */
export function requestKey(method: string | undefined, status: number | undefined): string {
  const known = method !== undefined && METHODS.has(method) ? method : "OTHER";
  return `${known} ${status === undefined ? "none" : `${Math.floor(status / 100)}xx`}`;
}

/** Error codes become labels only from this list, so no client can grow the label set. */
const ERROR_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE"]);

export function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && ERROR_CODES.has(code) ? code : "other";
}

/** An error's Node code for a log line ("ERR_INVALID_URL", "EMFILE"): a code only, never its message, which may hold a request's URL. */
export function nodeErrorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : "unknown";
}

export interface MetricsView {
  counters: Counters;
  sessions: number;
  openStreams: number;
  requestsInFlight: number;
  maxSessions: number;
  upstreamUp: boolean;
  draining: boolean;
  selfRssBytes: number;
}

type Family = { name: string; type: "gauge" | "counter"; help: string; samples: Array<[Record<string, string>, number]> };

export function renderMetrics(view: MetricsView): string {
  const { counters } = view;
  const families: Family[] = [
    gauge("sessions", "MCP sessions the guard tracks (open in MetaMCP, as far as the guard knows).", view.sessions),
    gauge("max_sessions", "Most sessions tracked at once (GUARD_MAX_SESSIONS).", view.maxSessions),
    gauge("open_streams", "Requests and streams of tracked sessions still open (a session with one is not idle).", view.openStreams),
    gauge("requests_in_flight", "Requests being forwarded now, streams included.", view.requestsInFlight),
    {
      name: "sessions_started_total",
      type: "counter",
      help: "Sessions the guard started tracking: answered initialize, or adopted (a live id the guard did not know).",
      samples: SESSION_ORIGINS.map((origin) => [{ origin }, counters.started[origin]]),
    },
    {
      name: "sessions_ended_total",
      type: "counter",
      help: "Sessions the guard stopped tracking, by reason (idle and lifetime: ended by the guard's DELETE).",
      samples: FORGET_REASONS.map((reason) => [{ reason }, counters.ended[reason]]),
    },
    {
      name: "sessions_untracked_total",
      type: "counter",
      help: "Sessions forwarded but not tracked because max_sessions was reached.",
      samples: [[{}, counters.untracked]],
    },
    {
      name: "requests_total",
      type: "counter",
      help: "Requests forwarded, by method and the status class the client got (none: it left first).",
      samples: [...counters.requests].map(([key, value]) => {
        const [method, code] = key.split(" ");
        return [{ method, code }, value];
      }),
    },
    {
      name: "upstream_errors_total",
      type: "counter",
      help: "Requests MetaMCP could not be reached or read for (answered 502, or cut), by error code.",
      samples: [...counters.upstreamErrors].map(([code, value]) => [{ code }, value]),
    },
    {
      name: "refused_targets_total",
      type: "counter",
      help: "Requests (answered 400) and upgrades (closed) whose target is not a URL path, never forwarded.",
      samples: REFUSED_KINDS.map((kind) => [{ kind }, counters.refusedTargets[kind]]),
    },
    {
      name: "deletes_total",
      type: "counter",
      help: "DELETEs the guard sent to end sessions, by result (anything but ok and not_found is a failure).",
      samples: DELETE_RESULTS.map((result) => [{ result }, counters.deletes[result]]),
    },
    gauge("upstream_up", "1 while the last attempt to reach MetaMCP got an answer.", view.upstreamUp ? 1 : 0),
    gauge("draining", "1 after SIGTERM, while open requests finish.", view.draining ? 1 : 0),
    gauge("self_rss_bytes", "Resident memory of the guard itself.", view.selfRssBytes),
  ];
  return families.map(renderFamily).join("");
}

function gauge(name: string, help: string, value: number): Family {
  return { name, type: "gauge", help, samples: [[{}, value]] };
}

function renderFamily(family: Family): string {
  const name = `${PREFIX}_${family.name}`;
  let text = `# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`;
  for (const [labels, value] of family.samples) {
    const pairs = Object.entries(labels).map(([key, label]) => `${key}="${escapeLabel(label)}"`);
    text += `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${Number.isFinite(value) ? value : 0}\n`;
  }
  return text;
}

function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

export interface Health {
  ok: boolean;
  detail: string;
}

/** The /metrics and /healthz server (not yet listening). */
export function metricsServer(handlers: { metrics: () => string; health: () => Health }): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(handlers.metrics());
    } else if (path === "/healthz") {
      const health = handlers.health();
      res.writeHead(health.ok ? 200 : 503, { "content-type": "text/plain; charset=utf-8" }).end(`${health.detail}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
}
