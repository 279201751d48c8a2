import { describe, expect, it } from "vitest";
import { formatDuration, loadSettings, parseDuration, SettingsError } from "../../guard/src/config";
import { DEFAULTS, ENV } from "../../guard/src/contract";
import { thrownProblems } from "../support/problems";

const UPSTREAM = { GUARD_UPSTREAM: "http://metamcp:12008" };

const problems = (env: Record<string, string>) => thrownProblems(() => loadSettings(env), SettingsError);

describe("loadSettings", () => {
  it("takes every default when only the upstream is set", () => {
    expect(loadSettings(UPSTREAM)).toEqual({
      upstream: "http://metamcp:12008",
      listenHost: "0.0.0.0",
      listenPort: 12008,
      idleTimeoutMs: 30 * 60_000,
      maxLifetimeMs: 0,
      sweepIntervalMs: 30_000,
      deleteTimeoutMs: 10_000,
      deleteAttempts: 5,
      maxSessions: 10_000,
      tcpKeepAliveMs: 60_000,
      drainTimeoutMs: 5_000,
      trustForwarded: false,
      logRequests: false,
      metricsHost: "0.0.0.0",
      metricsPort: 9465,
    });
  });

  it("reads every variable, in the units people write", () => {
    const settings = loadSettings({
      GUARD_UPSTREAM: "http://127.0.0.1:3000/",
      GUARD_LISTEN_HOST: "::",
      GUARD_LISTEN_PORT: "8080",
      GUARD_IDLE_TIMEOUT: "1h30m",
      GUARD_MAX_LIFETIME: "1d",
      GUARD_SWEEP_INTERVAL: "500ms",
      GUARD_DELETE_TIMEOUT: "2s",
      GUARD_DELETE_ATTEMPTS: "1",
      GUARD_MAX_SESSIONS: "50",
      GUARD_TCP_KEEPALIVE: "15s",
      GUARD_DRAIN_TIMEOUT: "0",
      GUARD_TRUST_FORWARDED: "yes",
      GUARD_LOG_REQUESTS: "TRUE",
      GUARD_METRICS_HOST: "127.0.0.1",
      GUARD_METRICS_PORT: "19465",
    });
    expect(settings).toEqual({
      upstream: "http://127.0.0.1:3000",
      listenHost: "::",
      listenPort: 8080,
      idleTimeoutMs: 90 * 60_000,
      maxLifetimeMs: 86_400_000,
      sweepIntervalMs: 500,
      deleteTimeoutMs: 2_000,
      deleteAttempts: 1,
      maxSessions: 50,
      tcpKeepAliveMs: 15_000,
      drainTimeoutMs: 0,
      trustForwarded: true,
      logRequests: true,
      metricsHost: "127.0.0.1",
      metricsPort: 19465,
    });
  });

  it("treats empty variables as unset", () => {
    expect(loadSettings({ ...UPSTREAM, GUARD_IDLE_TIMEOUT: " ", GUARD_MAX_SESSIONS: "" })).toMatchObject({ idleTimeoutMs: 1_800_000, maxSessions: 10_000 });
  });

  it("reports every bad variable at once, each by name with its value and what is allowed", () => {
    const found = problems({
      GUARD_LISTEN_PORT: "70000",
      GUARD_IDLE_TIMEOUT: "30 minutes",
      GUARD_MAX_LIFETIME: "500ms",
      GUARD_DELETE_ATTEMPTS: "0",
      GUARD_TRUST_FORWARDED: "maybe",
      GUARD_METRICS_HOST: "localhost",
    });
    expect(found).toEqual([
      expect.stringMatching(/^GUARD_UPSTREAM: is required: MetaMCP's address as an http:\/\/ URL, such as http:\/\/metamcp:12008$/),
      'GUARD_LISTEN_PORT: "70000" is not a whole number from 1 to 65535',
      'GUARD_IDLE_TIMEOUT: "30 minutes" is not a duration; write it like 500ms, 30s, 30m, 1h30m or 7d (allowed: 100ms to 7d)',
      'GUARD_MAX_LIFETIME: "500ms" is out of range; allowed: 0 (off) or 1s to 30d',
      'GUARD_DELETE_ATTEMPTS: "0" is not a whole number from 1 to 100',
      'GUARD_TRUST_FORWARDED: "maybe" is not a boolean; write true or false',
      'GUARD_METRICS_HOST: "localhost" is not an IP address (such as 0.0.0.0, 127.0.0.1 or ::)',
    ]);
  });

  it.each([
    ["not a URL", "metamcp 12008", /is not a URL/],
    ["no scheme it serves", "metamcp:12008", /must use http:\/\//],
    ["https", "https://metamcp:12008", /must use http:\/\//],
    ["a path", "http://metamcp:12008/metamcp", /must be an origin without a path, query or fragment/],
    ["a query", "http://metamcp:12008/?x=1", /must be an origin without a path, query or fragment/],
  ])("refuses an upstream with %s", (_name, value, message) => {
    expect(problems({ GUARD_UPSTREAM: value })).toEqual([expect.stringMatching(new RegExp(`^GUARD_UPSTREAM: .*${message.source}`))]);
  });

  it("refuses credentials in the upstream without repeating them", () => {
    const [problem] = problems({ GUARD_UPSTREAM: "http://admin:s3cret@metamcp:12008" });
    expect(problem).toBe("GUARD_UPSTREAM: must not contain credentials (user:password@); write such as http://metamcp:12008");
    expect(problem).not.toContain("s3cret");
  });

  it("refuses /metrics on the proxied port", () => {
    expect(problems({ ...UPSTREAM, GUARD_METRICS_PORT: "12008" })).toEqual([
      "GUARD_METRICS_PORT: 12008 is also GUARD_LISTEN_PORT; /metrics and /healthz must have a port of their own, never the proxied one",
    ]);
  });

  it("has a default for every variable and a variable for every default", () => {
    expect(Object.keys(DEFAULTS).sort()).toEqual(Object.keys(ENV).sort());
    for (const name of Object.values(ENV)) expect(name).toMatch(/^GUARD_[A-Z_]+$/);
  });
});

describe("parseDuration", () => {
  it.each([
    ["0", 0],
    ["250ms", 250],
    ["30s", 30_000],
    ["30m", 1_800_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["1h30m", 5_400_000],
    ["1m30s", 90_000],
    ["1s500ms", 1_500],
    [" 5s ", 5_000],
  ])("%s → %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "5", "5 s", "-1s", "1.5s", "30sec", "30m1h", "1h1h", "ms", "s"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([0, 250, 30_000, 1_800_000, 5_400_000, 90_061_001])("formatDuration(%i) reads back as the same", (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
