/**
 * The session tracking's decisions, as tables: which answers start, update or forget a session,
 * which credentials are kept for the DELETE, when a session is idle or expired, and what a DELETE's
 * result leads to.
 */
import { describe, expect, it } from "vitest";
import {
  accepted,
  deleteFinished,
  deleteHeaders,
  deleteResultKind,
  deleteStarted,
  dueForEnding,
  endReason,
  requestFacts,
  responseStarted,
  streamClosed,
  streamOpened,
  type DeleteResult,
  type RequestFacts,
  type Session,
} from "../../guard/src/sessions";

const ID = "5f0c6f7e-1b7d-4c39-9f4e-8a1d2b3c4d5e";
const LIMITS = { idleTimeoutMs: 1_000, maxLifetimeMs: 0, deleteAttempts: 3, maxSessions: 10 };

function session(overrides: Partial<Session> = {}): Session {
  return {
    id: ID,
    path: "/metamcp/default/mcp",
    origin: "initialize",
    createdAt: 0,
    lastActivityAt: 0,
    openStreams: 0,
    credentials: { target: "/metamcp/default/mcp", apiKey: "old-key" },
    ...overrides,
  };
}

function request(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return { method: "POST", target: "/metamcp/default/mcp", sessionId: ID, apiKey: "new-key", ...overrides };
}

describe("requestFacts", () => {
  it.each([
    ["no credentials", {}, {}],
    ["X-API-Key", { "x-api-key": "k1" }, { apiKey: "k1" }],
    ["Authorization", { authorization: "Bearer t1" }, { authorization: "Bearer t1" }],
    ["Cookie", { cookie: "better-auth.session_token=c1" }, { cookie: "better-auth.session_token=c1" }],
    ["protocol version", { "mcp-protocol-version": "2025-06-18" }, { protocolVersion: "2025-06-18" }],
    ["a repeated header counts with its first value", { "x-api-key": ["k1", "k2"] }, { apiKey: "k1" }],
    ["an empty header counts as absent", { "x-api-key": "" }, {}],
  ])("%s", (_name, headers, expected) => {
    expect(requestFacts("GET", "/x/mcp?api_key=q", headers)).toEqual({ method: "GET", target: "/x/mcp?api_key=q", ...expected });
  });

  it("reads the session id from Mcp-Session-Id", () => {
    expect(requestFacts("GET", "/x/mcp", { "mcp-session-id": ID }).sessionId).toBe(ID);
  });
});

describe("accepted: whether MetaMCP let the request past its authentication", () => {
  it.each([
    [200, true],
    [202, true],
    [400, true],
    [404, true],
    [500, true],
    [401, false],
    [403, false],
    [429, false],
  ])("%i → %s", (status, expected) => {
    expect(accepted(status)).toBe(expected);
  });
});

describe("responseStarted", () => {
  const cases: Array<{
    name: string;
    tracked?: Session;
    req: RequestFacts;
    status: number;
    responseSessionId?: string;
    size?: number;
    expected: ReturnType<typeof responseStarted>["kind"];
  }> = [
    { name: "initialize answered with an id starts a session", req: request({ sessionId: undefined }), status: 200, responseSessionId: ID, expected: "start" },
    { name: "initialize refused (401) starts nothing", req: request({ sessionId: undefined }), status: 401, responseSessionId: ID, expected: "none" },
    { name: "an answer without an id starts nothing (SSE, OAuth, the UI)", req: request({ sessionId: undefined }), status: 200, expected: "none" },
    { name: "initialize with the table full is untracked", req: request({ sessionId: undefined }), status: 200, responseSessionId: ID, size: 10, expected: "untracked" },
    { name: "a tracked session's request answered 200 updates it", tracked: session(), req: request(), status: 200, expected: "update" },
    { name: "a tracked session answered 404 is forgotten", tracked: session(), req: request(), status: 404, expected: "forget" },
    { name: "a GET answered 404 forgets it too", tracked: session(), req: request({ method: "GET" }), status: 404, expected: "forget" },
    { name: "the client's own DELETE answered 200 forgets it", tracked: session(), req: request({ method: "DELETE" }), status: 200, expected: "forget" },
    { name: "a refused request (401) leaves it as it was", tracked: session(), req: request(), status: 401, expected: "none" },
    { name: "an unknown id answered 200 is adopted", req: request(), status: 200, expected: "start" },
    { name: "an unknown id answered 404 is not adopted", req: request(), status: 404, expected: "none" },
    { name: "an unknown id answered 400 is not adopted", req: request(), status: 400, expected: "none" },
    { name: "an unknown id's DELETE is not adopted", req: request({ method: "DELETE" }), status: 200, expected: "none" },
    { name: "adoption with the table full is untracked", req: request(), status: 200, size: 10, expected: "untracked" },
  ];
  it.each(cases)("$name", ({ tracked, req, status, responseSessionId, size, expected }) => {
    expect(responseStarted(tracked, req, { status, sessionId: responseSessionId }, 5_000, size ?? 1, LIMITS).kind).toBe(expected);
  });

  it("a started session counts the stream of its first answer, and keeps that request's credentials", () => {
    const outcome = responseStarted(undefined, request({ sessionId: undefined, target: "/metamcp/default/mcp?api_key=q1" }), { status: 200, sessionId: ID }, 7, 0, LIMITS);
    expect(outcome).toEqual({
      kind: "start",
      session: {
        id: ID,
        path: "/metamcp/default/mcp",
        origin: "initialize",
        createdAt: 7,
        lastActivityAt: 7,
        openStreams: 1,
        credentials: { target: "/metamcp/default/mcp?api_key=q1", apiKey: "new-key" },
      },
    });
  });

  it("an adopted session says so", () => {
    const outcome = responseStarted(undefined, request(), { status: 200 }, 7, 0, LIMITS);
    expect(outcome.kind === "start" && outcome.session.origin).toBe("adopted");
  });

  it("forgetting says why", () => {
    expect(responseStarted(session(), request(), { status: 404 }, 7, 1, LIMITS)).toEqual({ kind: "forget", reason: "not_found" });
    expect(responseStarted(session(), request({ method: "DELETE" }), { status: 204 }, 7, 1, LIMITS)).toEqual({ kind: "forget", reason: "client_delete" });
  });
});

describe("credential choice: the DELETE replays what the client last used and MetaMCP accepted", () => {
  const replayed = (tracked: Session, req: RequestFacts, status: number) => {
    const outcome = responseStarted(tracked, req, { status }, 9, 1, LIMITS);
    return deleteHeaders(outcome.kind === "update" ? outcome.session : tracked);
  };

  it.each([
    ["a new API key replaces the old one", request({ apiKey: "new-key" }), 200, { "x-api-key": "new-key" }],
    ["a switch to a bearer token drops the old key", request({ apiKey: undefined, authorization: "Bearer t2" }), 200, { authorization: "Bearer t2" }],
    ["a cookie (the UI's inspector) is kept", request({ apiKey: undefined, cookie: "s=c2" }), 202, { cookie: "s=c2" }],
    ["a refused key (401) is never kept", request({ apiKey: "wrong" }), 401, { "x-api-key": "old-key" }],
    ["a forbidden key (403) is never kept", request({ apiKey: "foreign" }), 403, { "x-api-key": "old-key" }],
    ["a request MetaMCP failed (500) still passed its authentication", request({ apiKey: "new-key" }), 500, { "x-api-key": "new-key" }],
  ])("%s", (_name, req, status, expected) => {
    expect(replayed(session(), req, status)).toEqual({ "mcp-session-id": ID, ...expected });
  });

  it("a query-parameter key is replayed with the target it came in", () => {
    const outcome = responseStarted(session(), request({ apiKey: undefined, target: "/metamcp/default/mcp?api_key=q3" }), { status: 200 }, 9, 1, LIMITS);
    expect(outcome.kind === "update" && outcome.session.credentials).toEqual({ target: "/metamcp/default/mcp?api_key=q3" });
  });

  it("the protocol version header is replayed", () => {
    expect(deleteHeaders(session({ credentials: { target: "/x/mcp", protocolVersion: "2025-06-18" } }))).toEqual({
      "mcp-session-id": ID,
      "mcp-protocol-version": "2025-06-18",
    });
  });
});

describe("open streams and activity", () => {
  it("a request opens a stream; its close counts as activity when accepted", () => {
    const open = streamOpened(session({ lastActivityAt: 100 }));
    expect(open.openStreams).toBe(1);
    expect(streamClosed(open, true, 900)).toMatchObject({ openStreams: 0, lastActivityAt: 900 });
  });

  it("a refused request's close is no activity (a wrong key cannot keep a session alive)", () => {
    expect(streamClosed(streamOpened(session({ lastActivityAt: 100 })), false, 900)).toMatchObject({ openStreams: 0, lastActivityAt: 100 });
  });

  it("never counts below zero", () => {
    expect(streamClosed(session({ openStreams: 0 }), true, 5).openStreams).toBe(0);
  });

  it("an accepted answer counts as activity and drops a failed DELETE's retry", () => {
    const failing = session({ ending: { reason: "idle", failures: 1, inFlight: false } });
    const outcome = responseStarted(failing, request(), { status: 200 }, 4_000, 1, LIMITS);
    expect(outcome.kind === "update" && outcome.session).toMatchObject({ lastActivityAt: 4_000, ending: undefined });
  });

  it("a DELETE on its way is left to finish", () => {
    const ending = { reason: "idle" as const, failures: 0, inFlight: true };
    const outcome = responseStarted(session({ ending }), request(), { status: 200 }, 4_000, 1, LIMITS);
    expect(outcome.kind === "update" && outcome.session.ending).toEqual(ending);
  });
});

describe("endReason: idle, lifetime", () => {
  const withLifetime = { ...LIMITS, maxLifetimeMs: 10_000 };
  it.each([
    ["idle for less than the timeout", session({ lastActivityAt: 500 }), 1_400, LIMITS, undefined],
    ["idle for exactly the timeout", session({ lastActivityAt: 500 }), 1_500, LIMITS, "idle"],
    ["idle long ago", session(), 60_000, LIMITS, "idle"],
    ["idle but a stream is open (a GET stream)", session({ openStreams: 1 }), 60_000, LIMITS, undefined],
    ["lifetime off (0) never expires", session({ openStreams: 1 }), 10_000_000, LIMITS, undefined],
    ["past the lifetime, even with a stream open", session({ openStreams: 2, lastActivityAt: 9_999 }), 10_000, withLifetime, "lifetime"],
    ["lifetime wins over idle", session(), 10_000, withLifetime, "lifetime"],
    ["young and busy", session({ openStreams: 1, lastActivityAt: 9_000 }), 9_500, withLifetime, undefined],
    ["a DELETE already on its way", session({ ending: { reason: "idle", failures: 0, inFlight: true } }), 60_000, LIMITS, undefined],
    ["a failed DELETE is due again", session({ ending: { reason: "idle", failures: 1, inFlight: false } }), 60_000, LIMITS, "idle"],
  ] as const)("%s", (_name, s, now, limits, expected) => {
    expect(endReason(s, now, limits)).toBe(expected);
  });

  it("dueForEnding lists the due sessions in table order", () => {
    const sessions = [
      session({ id: "a" }),
      session({ id: "b", openStreams: 1 }),
      session({ id: "c", lastActivityAt: 59_500 }),
      session({ id: "d" }),
    ];
    expect(dueForEnding(sessions, 60_000, LIMITS).map(({ session: s, reason }) => [s.id, reason])).toEqual([
      ["a", "idle"],
      ["d", "idle"],
    ]);
  });
});

describe("DELETE results", () => {
  it.each([
    [{ status: 200 }, "ok"],
    [{ status: 204 }, "ok"],
    [{ status: 404 }, "not_found"],
    [{ status: 500 }, "server_error"],
    [{ status: 502 }, "server_error"],
    [{ status: 503 }, "server_error"],
    [{ status: 408 }, "server_error"],
    [{ status: 429 }, "server_error"],
    [{ status: 401 }, "rejected"],
    [{ status: 403 }, "rejected"],
    [{ status: 400 }, "rejected"],
    [{ status: 302 }, "rejected"],
    [{ error: "network", message: "connect ECONNREFUSED" }, "network"],
    [{ error: "timeout", message: "no answer" }, "timeout"],
  ] as Array<[DeleteResult, string]>)("%j → %s", (result, kind) => {
    expect(deleteResultKind(result)).toBe(kind);
  });

  const ending = (failures: number) => deleteStarted(session({ ending: failures > 0 ? { reason: "idle", failures, inFlight: false } : undefined }), "idle");

  it.each([
    ["200: ended", ending(0), { status: 200 }, { kind: "forget", reason: "idle" }],
    ["404: MetaMCP no longer has it, ended", ending(0), { status: 404 }, { kind: "forget", reason: "idle" }],
    ["401: cannot change on a retry, forgotten", ending(0), { status: 401 }, { kind: "forget", reason: "delete_rejected" }],
    ["500, first failure: retried", ending(0), { status: 500 }, { kind: "retry" }],
    ["no answer, second failure: retried", ending(1), { error: "network", message: "ECONNREFUSED" }, { kind: "retry" }],
    ["timeout, third failure of three: forgotten", ending(2), { error: "timeout", message: "no answer" }, { kind: "forget", reason: "delete_failed" }],
  ] as Array<[string, Session, DeleteResult, object]>)("%s", (_name, s, result, expected) => {
    expect(deleteFinished(s, result, LIMITS)).toMatchObject(expected);
  });

  it("a lifetime ending keeps its reason", () => {
    expect(deleteFinished(deleteStarted(session(), "lifetime"), { status: 200 }, LIMITS)).toEqual({ kind: "forget", reason: "lifetime" });
  });

  it("a retry counts the failure, says what it was, and waits for the next sweep", () => {
    const outcome = deleteFinished(deleteStarted(session(), "idle"), { status: 503 }, LIMITS);
    expect(outcome.kind === "retry" && outcome.session.ending).toEqual({ reason: "idle", failures: 1, inFlight: false, lastFailure: "HTTP 503" });
  });

  it("deleteStarted keeps the failures so far", () => {
    const again = deleteStarted(session({ ending: { reason: "idle", failures: 2, inFlight: false, lastFailure: "HTTP 500" } }), "idle");
    expect(again.ending).toEqual({ reason: "idle", failures: 2, inFlight: true });
  });
});
