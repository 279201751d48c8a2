import { describe, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import { emptyMetricsState, recordOutcome, renderMetrics, scanFigures, serveMetrics } from "../../monitor/src/metrics";
import { classify } from "../../monitor/src/tree";
import { classifyOptions, mcpGroup, metamcpBase, proc, table } from "./support/fixtures";
import { parseExposition, sampleValue } from "./support/prom";

const OPTIONS = classifyOptions();

describe("renderMetrics", () => {
  it("renders the last scan and the counters in the Prometheus text format", () => {
    const snapshot = classify(
      table([
        ...metamcpBase(),
        ...mcpGroup({ sid: 100, rssMiB: 30 }),
        ...mcpGroup({ sid: 200, leaderAlive: false, rssMiB: 30 }),
        proc({ pid: 300, ppid: 10, cmd: "x", sid: 1, pgid: 1, state: "Z" }),
        proc({ pid: 400, ppid: 1, cmd: "sleep 1000", sid: 400, threads: 3 }),
        proc({ pid: 500, ppid: 1, cmd: "node dist/index.js", sid: 500 }),
      ]),
      OPTIONS,
    );
    const state = emptyMetricsState(false);
    state.scans = 3;
    state.last = scanFigures(snapshot, { unreadable: 2, pendingCommandLines: 5 }, false, 0.0125);
    state.selfRssBytes = 42 * 1024 * 1024;
    state.scansCutShort = 1;
    state.commandCacheBytes = 4096;
    recordOutcome(state, "orphaned", "exited");
    recordOutcome(state, "orphaned", "killed");
    recordOutcome(state, "over-cap", "failed");

    const text = renderMetrics(state);
    const parsed = parseExposition(text);
    const value = (name: string, labels?: Record<string, string>) => sampleValue(parsed, `metamcp_monitor_${name}`, labels);
    expect(value("processes")).toBe(12);
    expect(value("zombies")).toBe(1);
    expect(value("mcp_groups", { state: "live" })).toBe(1);
    expect(value("mcp_groups", { state: "orphaned" })).toBe(1);
    expect(value("mcp_processes", { state: "orphaned" })).toBe(2);
    expect(value("mcp_rss_bytes", { state: "live" })).toBe(30 * 1024 * 1024);
    expect(value("main_server_up")).toBe(1);
    expect(value("unreadable_processes")).toBe(2);
    expect(value("pending_command_lines")).toBe(5);
    expect(value("scans_cut_short_total")).toBe(1);
    expect(value("command_cache_bytes")).toBe(4096);
    // The backend and an impostor in a session of its own (a self-built server run as node dist/index.js).
    expect(value("main_pattern_matches")).toBe(2);
    // The impostor and the sleep: unprotected, not MCP servers.
    expect(value("other_groups")).toBe(2);
    expect(value("other_tasks")).toBe(4);
    expect(value("scan_duration_seconds")).toBe(0.0125);
    expect(value("scans_total")).toBe(3);
    // Reaped counts only groups that are gone; every decision is in reap_decisions_total.
    expect(value("reaped_total", { reason: "orphaned" })).toBe(2);
    expect(value("reaped_total", { reason: "over-cap" })).toBe(0);
    expect(value("reaped_total", { reason: "emergency" })).toBe(0);
    expect(value("reap_decisions_total", { reason: "over-cap", outcome: "failed" })).toBe(1);
    expect(value("self_rss_bytes")).toBe(42 * 1024 * 1024);
    expect(parsed.types.get("metamcp_monitor_reaped_total")).toBe("counter");
    expect(parsed.types.get("metamcp_monitor_processes")).toBe("gauge");
  });

  it("renders counters before the first scan, and nothing about a scan that has not happened", () => {
    const parsed = parseExposition(renderMetrics(emptyMetricsState(true)));
    expect(sampleValue(parsed, "metamcp_monitor_dry_run")).toBe(1);
    expect(parsed.samples.some((s) => s.name === "metamcp_monitor_processes")).toBe(false);
  });

  it("the reader used by the tests refuses malformed text (so a pass means something)", () => {
    expect(() => parseExposition("metamcp_x 1\n")).toThrow(/before its TYPE/);
    expect(() => parseExposition("# TYPE a gauge\na{b=c} 1\n")).toThrow(/bad labels/);
    expect(() => parseExposition("# TYPE a gauge\na one\n")).toThrow(/not a number/);
    expect(() => parseExposition("# TYPE a gauge\na 1")).toThrow(/newline/);
  });

  it("redacts label values, so no label can carry a secret", () => {
    const state = emptyMetricsState(false);
    recordOutcome(state, "orphaned", "exited --api-key=sk-live-4eC39HqLyjWDarjtT1zdp7dc" as never);
    const text = renderMetrics(state);
    expect(text).not.toContain("sk-live");
    expect(sampleValue(parseExposition(text), "metamcp_monitor_reap_decisions_total", { outcome: "exited --api-key=***" })).toBe(1);
  });
});

describe("serveMetrics", () => {
  it("hands an error after listening to onError (unheard, it would end the monitor) and still serves /healthz", async () => {
    const heard: Error[] = [];
    const server = await serveMetrics("127.0.0.1", 0, {
      metrics: () => "",
      health: () => ({ ok: true, detail: "ok" }),
      onError: (error) => heard.push(error),
    });
    try {
      const acceptFailed = Object.assign(new Error("accept EMFILE"), { code: "EMFILE" });
      expect(() => server.emit("error", acceptFailed)).not.toThrow();
      expect(heard).toEqual([acceptFailed]);
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
