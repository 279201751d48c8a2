/**
 * The monitor's environment contract: every variable it reads and the default each one takes.
 *
 * This module is imported by both sides: monitor/src/config.ts parses these variables, and the
 * stack's infra/monitor/env.ts writes them. Keeping the names and defaults in one place means the
 * stack and the program cannot disagree on a spelling or on what "unset" means. It must stay free
 * of imports so the stack can load it without pulling in the monitor.
 */

export const ENV = {
  /** Time between scans of /proc, e.g. "5s". */
  interval: "MONITOR_INTERVAL",
  /** How long an MCP group must have been seen orphaned before it is reaped, e.g. "30s". */
  orphanGrace: "MONITOR_ORPHAN_GRACE",
  /** Time between SIGTERM to a group and SIGKILL to its survivors, e.g. "5s". */
  killGrace: "MONITOR_KILL_GRACE",
  /** Most live MCP groups kept; above it the idlest are reaped (each kill is a crash to MetaMCP). "off" (the default) turns the cap off. */
  maxGroups: "MONITOR_MAX_GROUPS",
  /** Total RSS live MCP groups may hold, e.g. "3g"; "0" or "off" (the default) turns the budget off. */
  rssBudget: "MONITOR_RSS_BUDGET",
  /** Tasks (processes plus threads, what pids.max counts) at which the emergency sweep starts; "0" turns it off. */
  emergencyTasks: "MONITOR_EMERGENCY_TASKS",
  /**
   * Anonymous memory of the watched processes (bytes, or "3g") at which the emergency sweep starts;
   * "0" turns it off. What is compared is RssAnon (statm resident minus shared) summed over every
   * process but the monitor's own: the memory the cgroup must keep charged. Not the RSS sum, which
   * counts the pages Node processes share (the node binary's) once per process.
   */
  emergencyRss: "MONITOR_EMERGENCY_RSS",
  /** Live MCP groups the emergency sweep keeps. */
  emergencyFloor: "MONITOR_EMERGENCY_FLOOR",
  /** "true": decide and log, signal nothing. */
  dryRun: "MONITOR_DRY_RUN",
  /** JSON array of regular expressions; a process whose command line matches one marks its session as an MCP group. */
  mcpPatterns: "MONITOR_MCP_PATTERNS",
  /** Regular expression for MetaMCP's own server process (never reaped; live MCP groups descend from it). */
  mainPattern: "MONITOR_MAIN_PATTERN",
  /** Address the /metrics and /healthz server listens on. */
  metricsHost: "MONITOR_METRICS_HOST",
  /** Port of the /metrics and /healthz server. */
  metricsPort: "MONITOR_METRICS_PORT",
  /** Where the process table is read from; only tests and the benchmark change it. */
  procRoot: "MONITOR_PROC_ROOT",
} as const;

export type SettingName = keyof typeof ENV;

/**
 * Commands MetaMCP starts MCP servers with (`npm exec`, `npx`, `uvx`, `node …mcp…`, `python -m …`),
 * and the `mcp-server-*` programs they run (`sh -c mcp-server-x`, `python3 …/bin/mcp-server-git`).
 * Matched against the command line with its arguments joined by single spaces.
 *
 * Written so that V8's backtracking engine runs each in linear time on any input: a pattern tried
 * at every start position has no unbounded quantifier (constant work per position), and one with
 * unbounded quantifiers is anchored at the start (`^`: one position) with no two of them able to
 * split the same run of characters. `(^|/)node\s.*mcp`, their predecessor, was quadratic: on a
 * command line of "/node " repeated it ran `.*` to the end from every one of them (1.2 s on 64 KiB).
 * Its replacement takes node as the program (the first word) only, which is how node servers run;
 * a shell script standing in for node (`/bin/sh …/node …/mcp-server`) is found by `mcp-server`.
 */
export const DEFAULT_MCP_PATTERNS: readonly string[] = [
  "(^|[\\s/])npm(-cli\\.js)? exec\\b",
  "(^|[\\s/])npx(-cli\\.js)?\\s",
  "(^|[\\s/])uvx\\s",
  "^(\\S*/)?node\\s.*mcp",
  "^(\\S*/)?python[0-9.]*\\s+-m\\s+\\S",
  "(^|[\\s/])mcp-server",
];

/**
 * MetaMCP's backend as its docker-entrypoint.sh starts it: `node dist/index.js` in /app/apps/backend.
 * MetaMCP spawns every MCP server from this process. The pattern is a check only: the backend is
 * found by where it sits in the process tree (mainServer.ts), since a self-built MCP server may
 * run as `node dist/index.js` too.
 */
export const DEFAULT_MAIN_PATTERN = "^node (/app/apps/backend/)?dist/index\\.js\\b";

/** Defaults as the text a variable would hold, so one parser handles set and unset variables alike. */
export const DEFAULTS: Record<SettingName, string> = {
  interval: "5s",
  orphanGrace: "30s",
  killGrace: "5s",
  maxGroups: "off",
  rssBudget: "off",
  emergencyTasks: "0",
  emergencyRss: "0",
  emergencyFloor: "2",
  dryRun: "false",
  mcpPatterns: JSON.stringify(DEFAULT_MCP_PATTERNS),
  mainPattern: DEFAULT_MAIN_PATTERN,
  metricsHost: "0.0.0.0",
  metricsPort: "9464",
  procRoot: "/proc",
};
