/**
 * Prometheus text exposition (format 0.0.4) of the latest scan and the reap counters, and the small
 * HTTP server that serves it with /healthz. Rendering is a pure function of MetricsState.
 */
import * as http from "node:http";
import { REAP_REASONS, type ReapReason } from "./policy";
import type { Outcome } from "./reaper";
import { redactCommandLine } from "./redact";
import type { Snapshot } from "./tree";

const PREFIX = "metamcp_monitor";

export interface ScanFigures {
  processes: number;
  tasks: number;
  zombies: number;
  rssBytes: number;
  /** Anonymous memory (RssAnon summed), when the scan read it. */
  anonymousBytes: number | undefined;
  groups: { live: number; orphaned: number };
  groupProcesses: { live: number; orphaned: number };
  groupRssBytes: { live: number; orphaned: number };
  /** Groups that are not MCP servers (reaped only in an emergency), and the tasks they hold. */
  others: { groups: number; tasks: number };
  mainServerUp: boolean;
  mainPatternMatches: number;
  unreadable: number;
  /** Command lines this scan had no time to read. */
  pendingCommandLines: number;
  emergency: boolean;
  durationSeconds: number;
}

export interface MetricsState {
  dryRun: boolean;
  scans: number;
  scanErrors: number;
  /** Scans that stopped reading command lines at their time budget. */
  scansCutShort: number;
  /** Bytes the command-line cache counts against its bound. */
  commandCacheBytes: number;
  last?: ScanFigures;
  /** Groups that are gone because of us (outcome exited or killed), by reason. */
  reaped: Record<ReapReason, number>;
  /** Every decision by reason and outcome, dry runs and failures included. */
  decisions: Map<string, number>;
  selfRssBytes: number;
}

export function emptyMetricsState(dryRun: boolean): MetricsState {
  return {
    dryRun,
    scans: 0,
    scanErrors: 0,
    scansCutShort: 0,
    commandCacheBytes: 0,
    reaped: Object.fromEntries(REAP_REASONS.map((r) => [r, 0])) as Record<ReapReason, number>,
    decisions: new Map(),
    selfRssBytes: 0,
  };
}

/** The figures a scan contributes, from its snapshot. */
export function scanFigures(
  snapshot: Snapshot,
  table: { unreadable: number; pendingCommandLines: number },
  emergency: boolean,
  durationSeconds: number,
): ScanFigures {
  const figures: ScanFigures = {
    processes: snapshot.processes,
    tasks: snapshot.tasks,
    zombies: snapshot.zombies.length,
    rssBytes: snapshot.rssBytes,
    anonymousBytes: snapshot.anonymousBytes,
    groups: { live: 0, orphaned: 0 },
    groupProcesses: { live: 0, orphaned: 0 },
    groupRssBytes: { live: 0, orphaned: 0 },
    others: { groups: snapshot.others.length, tasks: snapshot.others.reduce((sum, g) => sum + g.tasks, 0) },
    mainServerUp: snapshot.mainPid !== undefined,
    mainPatternMatches: snapshot.mainPatternPids.length,
    unreadable: table.unreadable,
    pendingCommandLines: table.pendingCommandLines,
    emergency,
    durationSeconds,
  };
  for (const group of snapshot.groups) {
    const state = group.state === "live" ? "live" : "orphaned";
    figures.groups[state]++;
    figures.groupProcesses[state] += group.members.length;
    figures.groupRssBytes[state] += group.rssBytes;
  }
  return figures;
}

export function recordOutcome(state: MetricsState, reason: ReapReason, outcome: Outcome): void {
  if (outcome === "exited" || outcome === "killed") state.reaped[reason]++;
  const key = `${reason}\u0000${outcome}`;
  state.decisions.set(key, (state.decisions.get(key) ?? 0) + 1);
}

type Sample = [labels: Record<string, string>, value: number];

export function renderMetrics(state: MetricsState): string {
  const lines: string[] = [];
  const metric = (name: string, type: "gauge" | "counter", help: string, samples: Sample[]) => {
    const full = `${PREFIX}_${name}`;
    lines.push(`# HELP ${full} ${help}`, `# TYPE ${full} ${type}`);
    for (const [labels, value] of samples) lines.push(`${full}${formatLabels(labels)} ${formatValue(value)}`);
  };
  const last = state.last;
  if (last) {
    metric("processes", "gauge", "Processes in the watched PID namespace.", [[{}, last.processes]]);
    metric("tasks", "gauge", "Processes plus threads in the namespace, the monitor's own excepted (what a pids limit counts).", [[{}, last.tasks]]);
    metric("zombies", "gauge", "Zombie processes waiting for their parent to collect them.", [[{}, last.zombies]]);
    metric(
      "rss_bytes",
      "gauge",
      "Resident memory (RSS) of all processes in the namespace, the monitor's own excepted; pages shared between processes count once per process.",
      [[{}, last.rssBytes]],
    );
    if (last.anonymousBytes !== undefined) {
      metric(
        "anonymous_bytes",
        "gauge",
        "Anonymous resident memory (RssAnon: statm resident minus shared) of all processes in the namespace, the monitor's own excepted; " +
          "what MONITOR_EMERGENCY_RSS is compared with. Read only on scans whose RSS sum reached 90% of that threshold.",
        [[{}, last.anonymousBytes]],
      );
    }
    metric("mcp_groups", "gauge", "MCP server groups (sessions), by state.", [
      [{ state: "live" }, last.groups.live],
      [{ state: "orphaned" }, last.groups.orphaned],
    ]);
    metric("mcp_processes", "gauge", "Processes in MCP server groups, by group state.", [
      [{ state: "live" }, last.groupProcesses.live],
      [{ state: "orphaned" }, last.groupProcesses.orphaned],
    ]);
    metric("mcp_rss_bytes", "gauge", "Resident memory of MCP server groups, by group state.", [
      [{ state: "live" }, last.groupRssBytes.live],
      [{ state: "orphaned" }, last.groupRssBytes.orphaned],
    ]);
    metric("other_groups", "gauge", "Unprotected process groups (sessions) that are not MCP servers; reaped only in an emergency.", [[{}, last.others.groups]]);
    metric("other_tasks", "gauge", "Tasks held by groups that are not MCP servers.", [[{}, last.others.tasks]]);
    metric("main_server_up", "gauge", "1 when the main server was found (by its place in the process tree, confirmed by its pattern).", [
      [{}, last.mainServerUp ? 1 : 0],
    ]);
    metric("main_pattern_matches", "gauge", "Live processes matching the main-server pattern; above 1, the others are impostors.", [
      [{}, last.mainPatternMatches],
    ]);
    metric("unreadable_processes", "gauge", "Processes whose /proc entries could not be read.", [[{}, last.unreadable]]);
    metric("pending_command_lines", "gauge", "Command lines the last scan had no time left to read.", [[{}, last.pendingCommandLines]]);
    metric("emergency", "gauge", "1 while an emergency holds (from a threshold until every measure is back below its release level).", [
      [{}, last.emergency ? 1 : 0],
    ]);
    metric("scan_duration_seconds", "gauge", "Wall time of the last scan and decision.", [[{}, last.durationSeconds]]);
  }
  metric("scans_total", "counter", "Scans completed.", [[{}, state.scans]]);
  metric("scan_errors_total", "counter", "Scans that failed.", [[{}, state.scanErrors]]);
  metric("scans_cut_short_total", "counter", "Scans that stopped reading new command lines at their time budget.", [[{}, state.scansCutShort]]);
  metric("command_cache_bytes", "gauge", "Bytes the command-line cache holds, against its fixed bound.", [[{}, state.commandCacheBytes]]);
  metric(
    "reaped_total",
    "counter",
    "MCP server groups reaped (gone after SIGTERM or SIGKILL), by reason.",
    REAP_REASONS.map((reason) => [{ reason }, state.reaped[reason]]),
  );
  metric(
    "reap_decisions_total",
    "counter",
    "Reap decisions by reason and outcome, dry runs and failures included.",
    [...state.decisions].map(([key, count]) => {
      const [reason, outcome] = key.split("\u0000");
      return [{ reason, outcome }, count] as Sample;
    }),
  );
  metric("dry_run", "gauge", "1 when the monitor decides but signals nothing.", [[{}, state.dryRun ? 1 : 0]]);
  metric("self_rss_bytes", "gauge", "Resident memory of the monitor itself.", [[{}, state.selfRssBytes]]);
  return `${lines.join("\n")}\n`;
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  // Labels hold fixed words today; redacting them still keeps a future label from carrying a secret.
  const escape = (v: string) => redactCommandLine(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}

export interface Health {
  ok: boolean;
  detail: string;
}

/**
 * Serves GET /metrics and GET /healthz; resolves once listening. Errors the server emits after that
 * (accept failing for want of descriptors or memory) go to `onError`: unheard, they would end the monitor.
 */
export function serveMetrics(
  host: string,
  port: number,
  handlers: { metrics: () => string; health: () => Health; onError: (error: Error) => void },
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
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
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      server.on("error", handlers.onError);
      resolve(server);
    });
  });
}
