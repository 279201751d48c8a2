/**
 * Session tracking, as pure functions: what the guard knows about each MCP Streamable HTTP session and
 * every decision it takes on one. No clock, no I/O: times come in as arguments (milliseconds on a
 * monotonic clock), and each function returns the session's next state or what the shell must do.
 * The shell (proxy.ts) keeps the sessions in a Map and applies the results.
 *
 * A session starts when MetaMCP answers a request that carried no `Mcp-Session-Id` with one (the
 * initialize POST), or when MetaMCP accepts a request carrying an id the guard does not know (a session
 * from before the guard restarted: adopted). It is forgotten when MetaMCP says it is gone (404), when
 * the client ends it (DELETE), or when the guard ends it: idle for `idleTimeoutMs` with no stream open,
 * or older than `maxLifetimeMs`, by sending DELETE with the credentials the client last used on it.
 */

/** What the guard replays when it ends a session: what the client's last accepted request carried. */
export interface Credentials {
  /** Path and query of that request. The query may hold the API key (`?api_key=`), so it is replayed as is. */
  target: string;
  authorization?: string;
  apiKey?: string;
  cookie?: string;
  /** `Mcp-Protocol-Version`, not a secret, replayed so a strict server reads the DELETE as the client's. */
  protocolVersion?: string;
}

/** The parts of a client request the tracking reads. */
export interface RequestFacts extends Credentials {
  method: string;
  sessionId?: string;
}

export type EndReason = "idle" | "lifetime";

/** Why a session left the table. */
export const FORGET_REASONS = ["idle", "lifetime", "client_delete", "not_found", "delete_failed", "delete_rejected"] as const;
export type ForgetReason = (typeof FORGET_REASONS)[number];

export const SESSION_ORIGINS = ["initialize", "adopted"] as const;
export type SessionOrigin = (typeof SESSION_ORIGINS)[number];

/** The guard is ending the session: a DELETE is on its way, or failed and is retried on the next sweep. */
export interface Ending {
  reason: EndReason;
  /** DELETEs that failed so far. */
  failures: number;
  inFlight: boolean;
  lastFailure?: string;
}

export interface Session {
  id: string;
  /** The endpoint path the session belongs to (no query), e.g. /metamcp/default/mcp. */
  path: string;
  origin: SessionOrigin;
  createdAt: number;
  /** When an accepted request last arrived or an accepted stream last closed. */
  lastActivityAt: number;
  /** Requests and streams of this session still open: in flight, streaming a response, or a GET stream. */
  openStreams: number;
  credentials: Credentials;
  ending?: Ending;
}

export interface Limits {
  idleTimeoutMs: number;
  /** 0: no absolute lifetime. */
  maxLifetimeMs: number;
  deleteAttempts: number;
  maxSessions: number;
}

/** The one header value of a request or response; a repeated header counts as its first value. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}

/** Reads a request's method, target, session id and credentials from Node's lower-cased headers. */
export function requestFacts(
  method: string,
  target: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): RequestFacts {
  const facts: RequestFacts = { method, target };
  const sessionId = headerValue(headers["mcp-session-id"]);
  if (sessionId !== undefined) facts.sessionId = sessionId;
  const authorization = headerValue(headers.authorization);
  if (authorization !== undefined) facts.authorization = authorization;
  const apiKey = headerValue(headers["x-api-key"]);
  if (apiKey !== undefined) facts.apiKey = apiKey;
  const cookie = headerValue(headers.cookie);
  if (cookie !== undefined) facts.cookie = cookie;
  const protocolVersion = headerValue(headers["mcp-protocol-version"]);
  if (protocolVersion !== undefined) facts.protocolVersion = protocolVersion;
  return facts;
}

/** The credentials of a request, without its method and session id. */
export function credentialsOf(request: RequestFacts): Credentials {
  const { method: _method, sessionId: _sessionId, ...credentials } = request;
  return credentials;
}

export function pathOf(target: string): string {
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
}

/**
 * Whether MetaMCP let the request past its authentication: 401 and 403 are its answers to a missing,
 * wrong or foreign key, 429 its answer to repeated wrong keys. Credentials it refused are never
 * replayed, and a refused request does not keep a session alive.
 */
export function accepted(status: number): boolean {
  return status !== 401 && status !== 403 && status !== 429;
}

/** A request for a tracked session arrived: it is open until its response ends. */
export function streamOpened(session: Session): Session {
  return { ...session, openStreams: session.openStreams + 1 };
}

/** A request or stream of the session closed; an accepted one counts as activity. */
export function streamClosed(session: Session, wasAccepted: boolean, now: number): Session {
  return {
    ...session,
    openStreams: Math.max(0, session.openStreams - 1),
    lastActivityAt: wasAccepted ? Math.max(session.lastActivityAt, now) : session.lastActivityAt,
  };
}

export type ResponseOutcome =
  /** Nothing to track: no session involved, or a session MetaMCP did not accept. */
  | { kind: "none" }
  /** A session the guard did not know: track it (its new stream is already counted in openStreams). */
  | { kind: "start"; session: Session }
  | { kind: "update"; session: Session }
  | { kind: "forget"; reason: "not_found" | "client_delete" }
  /** A session the guard would start but cannot: the table is full. */
  | { kind: "untracked" };

/**
 * MetaMCP's answer to a request has begun. `session` is the tracked session the request named (if
 * any); `responseSessionId` is the `Mcp-Session-Id` MetaMCP answered with; `tracked` is how many
 * sessions the table holds.
 */
export function responseStarted(
  session: Session | undefined,
  request: RequestFacts,
  response: { status: number; sessionId?: string },
  now: number,
  tracked: number,
  limits: Pick<Limits, "maxSessions">,
): ResponseOutcome {
  const ok = response.status >= 200 && response.status < 300;
  if (request.sessionId === undefined) {
    // Only an answer that names a session starts one: the initialize POST.
    if (!ok || response.sessionId === undefined) return { kind: "none" };
    return startOrRefuse(response.sessionId, request, "initialize", now, tracked, limits);
  }
  if (response.status === 404) return session ? { kind: "forget", reason: "not_found" } : { kind: "none" };
  if (request.method === "DELETE" && ok) return session ? { kind: "forget", reason: "client_delete" } : { kind: "none" };
  if (!accepted(response.status)) return { kind: "none" };
  if (session === undefined) {
    // A live session from before the guard (re)started. Adopted only on a success, so made-up ids never are.
    return ok && request.method !== "DELETE" ? startOrRefuse(request.sessionId, request, "adopted", now, tracked, limits) : { kind: "none" };
  }
  return {
    kind: "update",
    session: {
      ...session,
      credentials: credentialsOf(request),
      lastActivityAt: Math.max(session.lastActivityAt, now),
      // The client is back: a failed DELETE is not retried. One already on its way is left to finish.
      ending: session.ending?.inFlight ? session.ending : undefined,
    },
  };
}

function startOrRefuse(
  id: string,
  request: RequestFacts,
  origin: SessionOrigin,
  now: number,
  tracked: number,
  limits: Pick<Limits, "maxSessions">,
): ResponseOutcome {
  if (tracked >= limits.maxSessions) return { kind: "untracked" };
  return {
    kind: "start",
    session: {
      id,
      path: pathOf(request.target),
      origin,
      createdAt: now,
      lastActivityAt: now,
      openStreams: 1,
      credentials: credentialsOf(request),
    },
  };
}

/** Why the guard should end this session now, or undefined. A DELETE already on its way is not sent twice. */
export function endReason(session: Session, now: number, limits: Pick<Limits, "idleTimeoutMs" | "maxLifetimeMs">): EndReason | undefined {
  if (session.ending?.inFlight) return undefined;
  if (limits.maxLifetimeMs > 0 && now - session.createdAt >= limits.maxLifetimeMs) return "lifetime";
  if (session.openStreams === 0 && now - session.lastActivityAt >= limits.idleTimeoutMs) return "idle";
  return undefined;
}

/** The sessions a sweep ends, in table order, with their reasons. */
export function dueForEnding(
  sessions: Iterable<Session>,
  now: number,
  limits: Pick<Limits, "idleTimeoutMs" | "maxLifetimeMs">,
): Array<{ session: Session; reason: EndReason }> {
  const due: Array<{ session: Session; reason: EndReason }> = [];
  for (const session of sessions) {
    const reason = endReason(session, now, limits);
    if (reason) due.push({ session, reason });
  }
  return due;
}

/** The guard is sending DELETE for the session. */
export function deleteStarted(session: Session, reason: EndReason): Session {
  return { ...session, ending: { reason, failures: session.ending?.failures ?? 0, inFlight: true } };
}

/** What came back from one DELETE: a status, or no answer at all. */
export type DeleteResult = { status: number } | { error: "timeout" | "network"; message: string };

export const DELETE_RESULTS = ["ok", "not_found", "rejected", "server_error", "network", "timeout"] as const;
export type DeleteResultKind = (typeof DELETE_RESULTS)[number];

export function deleteResultKind(result: DeleteResult): DeleteResultKind {
  if ("error" in result) return result.error;
  if (result.status >= 200 && result.status < 300) return "ok";
  if (result.status === 404) return "not_found";
  // Worth another try: MetaMCP failed, is restarting, or asked for patience.
  if (result.status >= 500 || result.status === 408 || result.status === 429) return "server_error";
  return "rejected";
}

export type DeleteOutcome =
  | { kind: "forget"; reason: ForgetReason }
  | { kind: "retry"; session: Session };

/**
 * The DELETE for a session came back. 2xx and 404 mean MetaMCP no longer holds it. A failure that
 * may pass (5xx, 408, 429, no answer) is retried on the next sweep until `deleteAttempts` have
 * failed; any other answer (401, 403, 400, …) cannot change on a retry, so the session is forgotten.
 */
export function deleteFinished(session: Session, result: DeleteResult, limits: Pick<Limits, "deleteAttempts">): DeleteOutcome {
  const reason = session.ending?.reason ?? "idle";
  const kind = deleteResultKind(result);
  if (kind === "ok" || kind === "not_found") return { kind: "forget", reason };
  if (kind === "rejected") return { kind: "forget", reason: "delete_rejected" };
  const failures = (session.ending?.failures ?? 0) + 1;
  if (failures >= limits.deleteAttempts) return { kind: "forget", reason: "delete_failed" };
  const lastFailure = "status" in result ? `HTTP ${result.status}` : result.message;
  return { kind: "retry", session: { ...session, ending: { reason, failures, inFlight: false, lastFailure } } };
}

/** The headers of the DELETE that ends a session: its id and the credentials the client last used on it. */
export function deleteHeaders(session: Session): Record<string, string> {
  const { credentials } = session;
  const headers: Record<string, string> = { "mcp-session-id": session.id };
  if (credentials.authorization !== undefined) headers.authorization = credentials.authorization;
  if (credentials.apiKey !== undefined) headers["x-api-key"] = credentials.apiKey;
  if (credentials.cookie !== undefined) headers.cookie = credentials.cookie;
  if (credentials.protocolVersion !== undefined) headers["mcp-protocol-version"] = credentials.protocolVersion;
  return headers;
}
