/**
 * What the guard writes and sends about requests: redacted log fields, the X-Forwarded-* headers,
 * the Prometheus exposition, and the log lines' shape.
 */
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../guard/src/config";
import { forwardedHeaders, plainAddress } from "../../guard/src/forwarded";
import { endedFields, logLine, startFields } from "../../guard/src/log";
import { emptyCounters, errorCode, nodeErrorCode, renderMetrics, requestKey, type MetricsView } from "../../guard/src/metrics";
import { redactTarget, shortId } from "../../guard/src/redact";
import type { Session } from "../../guard/src/sessions";
import { parseExposition, sampleValue } from "../monitor/support/prom";

describe("redactTarget: paths as they are, every query value replaced", () => {
  it.each([
    ["/metamcp/default/mcp", "/metamcp/default/mcp"],
    ["/metamcp/default/mcp?api_key=sk_live_123", "/metamcp/default/mcp?api_key=<redacted>"],
    ["/metamcp/default/mcp?apikey=sk_live_123&x=1", "/metamcp/default/mcp?apikey=<redacted>&x=<redacted>"],
    ["/mcp-proxy/server/mcp?url=http%3A%2F%2Fa&env=%7B%22TOKEN%22%3A%22t%22%7D", "/mcp-proxy/server/mcp?url=<redacted>&env=<redacted>"],
    ["/x?flag", "/x?flag"],
    ["/x?", "/x?"],
    ["/x?k=v#frag", "/x?k=<redacted>"],
    ["/x?k==v", "/x?k=<redacted>"],
  ])("%s → %s", (target, expected) => {
    expect(redactTarget(target)).toBe(expected);
  });
});

describe("shortId", () => {
  it.each([
    ["5f0c6f7e-1b7d-4c39-9f4e-8a1d2b3c4d5e", "5f0c6f7e…"],
    ["short", "short"],
  ])("%s → %s", (id, expected) => {
    expect(shortId(id)).toBe(expected);
  });
});

describe("forwardedHeaders", () => {
  const input = { peer: "::ffff:10.0.0.7", host: "mcp.example.org", forwardedFor: undefined, forwardedProto: undefined, forwardedHost: undefined };
  it.each([
    ["sets all three from what the guard sees", input, false, { "x-forwarded-for": "10.0.0.7", "x-forwarded-proto": "http", "x-forwarded-host": "mcp.example.org" }],
    [
      "by default ignores what the client claims (MetaMCP would fetch from a host the client chose)",
      { ...input, forwardedFor: "1.2.3.4", forwardedProto: "https", forwardedHost: "evil.example" },
      false,
      { "x-forwarded-for": "10.0.0.7", "x-forwarded-proto": "http", "x-forwarded-host": "mcp.example.org" },
    ],
    [
      "behind a trusted proxy keeps its proto and host and appends to its chain",
      { ...input, forwardedFor: "203.0.113.9", forwardedProto: "https", forwardedHost: "mcp.example.org:443" },
      true,
      { "x-forwarded-for": "203.0.113.9, 10.0.0.7", "x-forwarded-proto": "https", "x-forwarded-host": "mcp.example.org:443" },
    ],
    ["trusted but nothing forwarded: same as untrusted", input, true, { "x-forwarded-for": "10.0.0.7", "x-forwarded-proto": "http", "x-forwarded-host": "mcp.example.org" }],
    ["no Host header: no x-forwarded-host", { ...input, host: undefined }, false, { "x-forwarded-for": "10.0.0.7", "x-forwarded-proto": "http" }],
  ])("%s", (_name, given, trust, expected) => {
    expect(forwardedHeaders(given, trust)).toEqual(expected);
  });

  it.each([
    ["::ffff:192.168.1.2", "192.168.1.2"],
    ["::1", "::1"],
    ["2001:db8::1", "2001:db8::1"],
    ["127.0.0.1", "127.0.0.1"],
    [undefined, "unknown"],
  ])("plainAddress(%s) → %s", (address, expected) => {
    expect(plainAddress(address)).toBe(expected);
  });
});

describe("metrics", () => {
  function view(overrides: Partial<MetricsView> = {}): MetricsView {
    return {
      counters: emptyCounters(),
      sessions: 0,
      openStreams: 0,
      requestsInFlight: 0,
      maxSessions: 100,
      upstreamUp: true,
      draining: false,
      selfRssBytes: 1234,
      ...overrides,
    };
  }

  it("renders every family in the Prometheus text format, counters from zero", () => {
    const parsed = parseExposition(renderMetrics(view()));
    const value = (name: string, labels?: Record<string, string>) => sampleValue(parsed, `metamcp_guard_${name}`, labels);
    expect(value("sessions")).toBe(0);
    expect(value("max_sessions")).toBe(100);
    expect(value("sessions_ended_total", { reason: "idle" })).toBe(0);
    expect(value("sessions_ended_total", { reason: "delete_failed" })).toBe(0);
    expect(value("sessions_started_total", { origin: "adopted" })).toBe(0);
    expect(value("deletes_total", { result: "timeout" })).toBe(0);
    expect(value("upstream_up")).toBe(1);
    expect(value("self_rss_bytes")).toBe(1234);
    expect(parsed.types.get("metamcp_guard_requests_total")).toBe("counter");
    expect(parsed.types.get("metamcp_guard_open_streams")).toBe("gauge");
  });

  it("renders what happened", () => {
    const counters = emptyCounters();
    counters.started.initialize = 3;
    counters.ended.idle = 2;
    counters.ended.not_found = 1;
    counters.untracked = 4;
    counters.requests.set(requestKey("POST", 200), 7);
    counters.requests.set(requestKey("GET", undefined), 1);
    counters.upstreamErrors.set("ECONNREFUSED", 5);
    counters.deletes.ok = 2;
    counters.deletes.network = 1;
    const parsed = parseExposition(renderMetrics(view({ counters, sessions: 1, openStreams: 2, requestsInFlight: 3, upstreamUp: false, draining: true })));
    const value = (name: string, labels?: Record<string, string>) => sampleValue(parsed, `metamcp_guard_${name}`, labels);
    expect(value("sessions_started_total", { origin: "initialize" })).toBe(3);
    expect(value("sessions_ended_total", { reason: "idle" })).toBe(2);
    expect(value("sessions_ended_total", { reason: "not_found" })).toBe(1);
    expect(value("sessions_untracked_total")).toBe(4);
    expect(value("requests_total", { method: "POST", code: "2xx" })).toBe(7);
    expect(value("requests_total", { method: "GET", code: "none" })).toBe(1);
    expect(value("upstream_errors_total", { code: "ECONNREFUSED" })).toBe(5);
    expect(value("deletes_total", { result: "ok" })).toBe(2);
    expect(value("deletes_total", { result: "network" })).toBe(1);
    expect(value("sessions")).toBe(1);
    expect(value("open_streams")).toBe(2);
    expect(value("requests_in_flight")).toBe(3);
    expect(value("upstream_up")).toBe(0);
    expect(value("draining")).toBe(1);
  });

  it.each([
    ["GET", 200, "GET 2xx"],
    ["DELETE", 404, "DELETE 4xx"],
    ["BREW", 502, "OTHER 5xx"],
    [undefined, undefined, "OTHER none"],
  ])("requestKey(%s, %s) → %s: labels only from fixed words", (method, status, expected) => {
    expect(requestKey(method, status)).toBe(expected);
  });

  it.each([
    [Object.assign(new Error("x"), { code: "ECONNREFUSED" }), "ECONNREFUSED"],
    [Object.assign(new Error("x"), { code: "ESOMETHINGNEW" }), "other"],
    [new Error("no code"), "other"],
  ])("errorCode keeps known codes only: %s", (error, expected) => {
    expect(errorCode(error)).toBe(expected);
  });

  it.each([
    ["a Node error's code", Object.assign(new Error("x"), { code: "ERR_INVALID_URL" }), "ERR_INVALID_URL"],
    ["a system error's code", Object.assign(new Error("x"), { code: "EMFILE" }), "EMFILE"],
    ["no code", new Error("GET /metamcp?api_key=sk_1 failed"), "unknown"],
    ["a code that is not a code", Object.assign(new Error("x"), { code: "sk_live_secret value" }), "unknown"],
    ["not an error", undefined, "unknown"],
  ])("nodeErrorCode (the code a log line may carry): %s", (_case, error, code) => {
    expect(nodeErrorCode(error)).toBe(code);
  });
});

describe("log lines", () => {
  const session: Session = {
    id: "5f0c6f7e-1b7d-4c39-9f4e-8a1d2b3c4d5e",
    path: "/metamcp/default/mcp",
    origin: "initialize",
    createdAt: 1_000,
    lastActivityAt: 61_000,
    openStreams: 0,
    credentials: { target: "/metamcp/default/mcp?api_key=sk_live_123", apiKey: "sk_header", authorization: "Bearer tok", cookie: "c=1" },
  };

  it("are one JSON object per line with ts, level and event first", () => {
    const line = logLine(new Date("2026-01-02T03:04:05.000Z"), "warn", "delete_failed", { failures: 1 });
    expect(line.endsWith("\n")).toBe(true);
    expect(Object.keys(JSON.parse(line))).toEqual(["ts", "level", "event", "failures"]);
    expect(JSON.parse(line)).toEqual({ ts: "2026-01-02T03:04:05.000Z", level: "warn", event: "delete_failed", failures: 1 });
  });

  it("say which session, how old and how idle, and never its credentials or full id", () => {
    const fields = endedFields(session, "idle", 1_861_000, { status: 200 });
    expect(fields).toEqual({
      session: "5f0c6f7e…",
      path: "/metamcp/default/mcp",
      origin: "initialize",
      ageSeconds: 1860,
      idleSeconds: 1800,
      openStreams: 0,
      reason: "idle",
      delete: "HTTP 200",
    });
    const text = JSON.stringify(fields);
    for (const secret of ["sk_live_123", "sk_header", "Bearer tok", "c=1", session.id]) expect(text).not.toContain(secret);
  });

  it("the start line shows the settings in their written form", () => {
    expect(startFields(loadSettings({ GUARD_UPSTREAM: "http://metamcp:12008", GUARD_IDLE_TIMEOUT: "90m" }))).toMatchObject({
      upstream: "http://metamcp:12008",
      listen: "0.0.0.0:12008",
      metrics: "0.0.0.0:9465",
      idleTimeout: "1h30m",
      maxLifetime: "0",
      sweepInterval: "30s",
    });
  });
});
