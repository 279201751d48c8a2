import { describe, expect, it } from "vitest";
import { loadSettings, parseDuration, parseSize, SettingsError } from "../../monitor/src/config";
import { DEFAULT_MCP_PATTERNS, DEFAULTS, ENV } from "../../monitor/src/contract";
import { thrownProblems } from "../support/problems";

const problems = (env: Record<string, string>) => thrownProblems(() => loadSettings(env), SettingsError);

describe("loadSettings", () => {
  it("takes every default when nothing is set", () => {
    const settings = loadSettings({});
    expect(settings).toMatchObject({
      intervalMs: 5000,
      orphanGraceMs: 30_000,
      killGraceMs: 5000,
      // Off by default: a kill of a live group is a crash to MetaMCP (with one attempt, an outage).
      maxGroups: "off",
      rssBudgetBytes: 0,
      emergencyTasks: 0,
      emergencyAnonymousBytes: 0,
      emergencyFloor: 2,
      dryRun: false,
      metricsHost: "0.0.0.0",
      metricsPort: 9464,
      procRoot: "/proc",
    });
    expect(settings.mcpPatterns.map((p) => p.source)).toEqual(DEFAULT_MCP_PATTERNS.map((p) => new RegExp(p).source));
  });

  it("reads every variable, in the units people write", () => {
    const settings = loadSettings({
      MONITOR_INTERVAL: "500ms",
      MONITOR_ORPHAN_GRACE: "2m",
      MONITOR_KILL_GRACE: "1s",
      MONITOR_MAX_GROUPS: "8",
      MONITOR_RSS_BUDGET: "3g",
      MONITOR_EMERGENCY_TASKS: "80",
      MONITOR_EMERGENCY_RSS: "3584m",
      MONITOR_EMERGENCY_FLOOR: "0",
      MONITOR_DRY_RUN: "true",
      MONITOR_MCP_PATTERNS: '["^fake-mcp ", "uvx"]',
      MONITOR_MAIN_PATTERN: "metamcp-server",
      MONITOR_METRICS_HOST: "127.0.0.1",
      MONITOR_METRICS_PORT: "19000",
      MONITOR_PROC_ROOT: "/host/proc/",
    });
    expect(settings).toMatchObject({
      intervalMs: 500,
      orphanGraceMs: 120_000,
      killGraceMs: 1000,
      maxGroups: 8,
      rssBudgetBytes: 3 * 1024 ** 3,
      emergencyTasks: 80,
      emergencyAnonymousBytes: 3584 * 1024 ** 2,
      emergencyFloor: 0,
      dryRun: true,
      metricsHost: "127.0.0.1",
      metricsPort: 19000,
      procRoot: "/host/proc",
    });
    expect(settings.mcpPatterns.map(String)).toEqual(["/^fake-mcp /", "/uvx/"]);
    expect(settings.mainPattern.test("sh /fake/metamcp-server")).toBe(true);
  });

  it("treats an empty variable as unset", () => {
    expect(loadSettings({ MONITOR_INTERVAL: "" }).intervalMs).toBe(5000);
  });

  it('reads "off" for the cap and the budget', () => {
    expect(loadSettings({ MONITOR_MAX_GROUPS: "off", MONITOR_RSS_BUDGET: "off" })).toMatchObject({ maxGroups: "off", rssBudgetBytes: 0 });
    expect(loadSettings({ MONITOR_MAX_GROUPS: "1", MONITOR_RSS_BUDGET: "0" })).toMatchObject({ maxGroups: 1, rssBudgetBytes: 0 });
  });

  it.each([
    ["MONITOR_INTERVAL", "5", 'MONITOR_INTERVAL: "5" is not a duration; write a whole number with ms, s, m or h, such as 5s'],
    ["MONITOR_INTERVAL", "10ms", 'MONITOR_INTERVAL: "10ms" is out of range; allowed: 100ms to 3600s'],
    ["MONITOR_ORPHAN_GRACE", "-1s", 'MONITOR_ORPHAN_GRACE: "-1s" is not a duration'],
    ["MONITOR_KILL_GRACE", "1 s", 'MONITOR_KILL_GRACE: "1 s" is not a duration'],
    ["MONITOR_MAX_GROUPS", "ten", 'MONITOR_MAX_GROUPS: "ten" is neither off nor a whole number from 1 to 100000'],
    ["MONITOR_MAX_GROUPS", "2.5", 'MONITOR_MAX_GROUPS: "2.5" is neither off nor a whole number'],
    ["MONITOR_MAX_GROUPS", "0", 'MONITOR_MAX_GROUPS: "0" would reap every live MCP group; write off for no cap, or a number from 1 to 100000'],
    ["MONITOR_RSS_BUDGET", "lots", 'MONITOR_RSS_BUDGET: "lots" is not a size'],
    ["MONITOR_EMERGENCY_TASKS", "-3", 'MONITOR_EMERGENCY_TASKS: "-3" is not a whole number'],
    ["MONITOR_EMERGENCY_RSS", "90%", 'MONITOR_EMERGENCY_RSS: "90%" is not a size'],
    ["MONITOR_EMERGENCY_FLOOR", "x", 'MONITOR_EMERGENCY_FLOOR: "x" is not a whole number'],
    ["MONITOR_DRY_RUN", "maybe", 'MONITOR_DRY_RUN: "maybe" is not a boolean; write true or false'],
    ["MONITOR_MCP_PATTERNS", "npm exec", "MONITOR_MCP_PATTERNS: must be a non-empty JSON array of regular expressions"],
    ["MONITOR_MCP_PATTERNS", "[]", "MONITOR_MCP_PATTERNS: must be a non-empty JSON array"],
    ["MONITOR_MCP_PATTERNS", '["ok", "(unclosed"]', 'MONITOR_MCP_PATTERNS: item 1: "(unclosed" is not a regular expression'],
    ["MONITOR_MAIN_PATTERN", "[", 'MONITOR_MAIN_PATTERN: "[" is not a regular expression'],
    ["MONITOR_MAIN_PATTERN", "(node) \\1", 'MONITOR_MAIN_PATTERN: "(node) \\\\1" is not a regular expression: uses backreferences or lookaround'],
    ["MONITOR_MCP_PATTERNS", '["npx(?!-cli)"]', 'MONITOR_MCP_PATTERNS: item 0: "npx(?!-cli)" is not a regular expression: uses backreferences or lookaround'],
    ["MONITOR_METRICS_HOST", "localhost", "MONITOR_METRICS_HOST: is not an IP address"],
    ["MONITOR_METRICS_PORT", "70000", 'MONITOR_METRICS_PORT: "70000" is not a whole number from 1 to 65535'],
    ["MONITOR_PROC_ROOT", "proc", "MONITOR_PROC_ROOT: must be an absolute path"],
  ])("%s=%s is refused with a message naming it", (name, value, message) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0].startsWith(message)).toBe(true);
  });

  it("lists every bad variable at once", () => {
    expect(problems({ MONITOR_INTERVAL: "x", MONITOR_DRY_RUN: "y", MONITOR_METRICS_PORT: "0" }).map((p) => p.split(":")[0])).toEqual([
      "MONITOR_INTERVAL",
      "MONITOR_DRY_RUN",
      "MONITOR_METRICS_PORT",
    ]);
  });

  it("has a default for every variable of the contract, and every default parses", () => {
    expect(Object.keys(DEFAULTS).sort()).toEqual(Object.keys(ENV).sort());
    const allDefaults = Object.fromEntries(Object.entries(ENV).map(([key, name]) => [name, DEFAULTS[key as keyof typeof ENV]]));
    expect(loadSettings(allDefaults)).toEqual(loadSettings({}));
  });
});

describe("units", () => {
  it.each([
    ["500ms", 500],
    ["5s", 5000],
    ["2m", 120_000],
    ["1h", 3_600_000],
  ])("duration %s", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([
    ["0", 0],
    ["1048576", 1048576],
    ["512m", 512 * 1024 ** 2],
    ["1.5g", 1.5 * 1024 ** 3],
    ["64MiB", 64 * 1024 ** 2],
  ])("size %s", (text, bytes) => expect(parseSize(text)).toBe(bytes));
});
