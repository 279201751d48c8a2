/**
 * The stack side of the monitor's contract: settings in `metamcp-guard:monitor` → the environment
 * the program reads. Round-trips go through the program's own parser, so a mismatch in names or
 * formats fails here.
 */
import { describe, expect, it } from "vitest";
import { emergencyMemoryFor, emergencyTasksFor } from "../../infra/capacity";
import { ConfigError, parseStackConfig, type StackConfig } from "../../infra/config";
import type { MonitorConfig } from "../../infra/config/schema/monitor";
import { monitorEnvironment, type MonitorReapSettings } from "../../infra/monitor/env";
import { loadSettings } from "../../monitor/src/config";
import { ENV } from "../../monitor/src/contract";
import { rawStackConfig } from "../support/stackFiles";

/** The dev stack file, with `monitor` overrides, parsed as `pulumi up` would. */
function parse(monitor: Record<string, unknown> = {}): StackConfig {
  return parseStackConfig(rawStackConfig("dev", { "metamcp-guard:monitor": monitor })).config;
}

function problems(monitor: Record<string, unknown>): string[] {
  try {
    parse(monitor);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("the config was accepted");
}

const environmentOf = (config: StackConfig) => monitorEnvironment(config.monitor, { limits: config.app.limits });

describe("monitorEnvironment", () => {
  it("sets every variable the program reads (except the /proc root), by the contract's names", () => {
    const env = environmentOf(parse());
    expect(Object.keys(env).sort()).toEqual(Object.values(ENV).filter((name) => name !== ENV.procRoot).sort());
  });

  it("gives the program the defaults (cap and budget off), with both emergency thresholds derived from MetaMCP's capacity and limits", () => {
    const config = parse();
    const env = environmentOf(config);
    const settings = loadSettings(env);
    expect(settings).toMatchObject({
      intervalMs: 5000,
      orphanGraceMs: 30_000,
      killGraceMs: 5000,
      maxGroups: "off",
      rssBudgetBytes: 0,
      emergencyTasks: emergencyTasksFor(config.app.load, config.app.limits.pids),
      emergencyAnonymousBytes: Math.floor(config.app.limits.memory * 0.9),
      emergencyFloor: 2,
      dryRun: false,
      metricsHost: "0.0.0.0",
      metricsPort: 9464,
      procRoot: "/proc",
    });
    // The program with the stack's defaults behaves as the program with no variables, derived values aside.
    const { emergencyTasks: _a, emergencyAnonymousBytes: _b, ...rest } = settings;
    const { emergencyTasks: _c, emergencyAnonymousBytes: _d, ...programDefaults } = loadSettings({});
    expect(rest).toEqual(programDefaults);
    expect(settings.emergencyAnonymousBytes).toBe(emergencyMemoryFor(config.app.limits.memory));
  });

  it("passes every setting through in the program's units", () => {
    const config = parse({
      interval: "2s",
      orphanGrace: "1m",
      killGrace: "10s",
      maxGroups: 6,
      rssBudget: "1536m",
      emergencyTasks: 150,
      emergencyRss: "1536m",
      emergencyFloor: 1,
      dryRun: true,
      mcpPatterns: ["npm exec", "uvx\\s"],
      mainPattern: "^node server\\.js$",
      metrics: { host: "127.0.0.1", port: 9100 },
    });
    const env = environmentOf(config);
    expect(env).toEqual({
      MONITOR_INTERVAL: "2s",
      MONITOR_ORPHAN_GRACE: "1m",
      MONITOR_KILL_GRACE: "10s",
      MONITOR_MAX_GROUPS: "6",
      MONITOR_RSS_BUDGET: String(1536 * 1024 ** 2),
      MONITOR_EMERGENCY_TASKS: "150",
      MONITOR_EMERGENCY_RSS: String(1536 * 1024 ** 2),
      MONITOR_EMERGENCY_FLOOR: "1",
      MONITOR_DRY_RUN: "true",
      MONITOR_MCP_PATTERNS: '["npm exec","uvx\\\\s"]',
      MONITOR_MAIN_PATTERN: "^node server\\.js$",
      MONITOR_METRICS_HOST: "127.0.0.1",
      MONITOR_METRICS_PORT: "9100",
    });
    const settings = loadSettings(env);
    expect(settings.mcpPatterns.map((p) => p.source)).toEqual(["npm exec", "uvx\\s"]);
    expect(settings.rssBudgetBytes).toBe(1536 * 1024 ** 2);
  });

  it('turns the cap, the budget and each emergency threshold off with "off"', () => {
    const env = environmentOf(parse({ maxGroups: "off", rssBudget: "off", emergencyTasks: "off", emergencyRss: "off" }));
    expect(env).toMatchObject({ MONITOR_MAX_GROUPS: "off", MONITOR_RSS_BUDGET: "0", MONITOR_EMERGENCY_TASKS: "0", MONITOR_EMERGENCY_RSS: "0" });
    expect(loadSettings(env)).toMatchObject({ maxGroups: "off", rssBudgetBytes: 0, emergencyTasks: 0, emergencyAnonymousBytes: 0 });
  });

  it("accepts the parsed stack config as its input type", () => {
    const asInput: MonitorReapSettings = parse().monitor satisfies MonitorConfig;
    expect(asInput.interval).toBe("5s");
  });
});

describe("bad monitor settings are refused at preview, with the key", () => {
  it.each([
    [{ interval: "10ms" }, 'metamcp-guard:monitor.interval "10ms" is out of range; allowed: 100ms to 3600s'],
    [{ interval: "5" }, 'metamcp-guard:monitor.interval "5" is not a duration'],
    [{ maxGroups: -1 }, "metamcp-guard:monitor.maxGroups -1 is neither off nor a whole number from 1 to 100000"],
    [{ maxGroups: 0 }, "metamcp-guard:monitor.maxGroups 0 would reap every live MCP group; write off for no cap"],
    [{ emergencyRss: "lots" }, 'metamcp-guard:monitor.emergencyRss "lots" is not a size'],
    [{ mainPattern: "(?<=/)node" }, 'metamcp-guard:monitor.mainPattern "(?<=/)node" is not a regular expression: uses backreferences or lookaround'],
    [{ rssBudget: "lots" }, 'metamcp-guard:monitor.rssBudget "lots" is not a size'],
    [{ emergencyTasks: 0 }, "metamcp-guard:monitor.emergencyTasks 0 is not a whole number from 1 to 32767"],
    [{ emergencyTasks: 93 }, "metamcp-guard:monitor.emergencyTasks 93 is at or below MetaMCP's idle load (93 tasks with no client)"],
    [{ emergencyTasks: 232 }, "metamcp-guard:monitor.emergencyTasks 232 is at or above app.limits.pids (232)"],
    [{ mcpPatterns: [] }, "metamcp-guard:monitor.mcpPatterns must list at least one pattern"],
    [{ mcpPatterns: ["ok", "(x"] }, 'metamcp-guard:monitor.mcpPatterns item 1: "(x" is not a regular expression'],
    [{ mainPattern: "[" }, 'metamcp-guard:monitor.mainPattern "[" is not a regular expression'],
    [{ metrics: { host: "localhost" } }, "metamcp-guard:monitor.metrics.host is not an IP address"],
    [{ metrics: { port: 0 } }, "metamcp-guard:monitor.metrics.port 0 is not a whole number from 1 to 65535"],
    [{ dryrun: true }, "metamcp-guard:monitor.dryrun is not a known key"],
  ])("%j", (monitor, message) => {
    const found = problems(monitor);
    expect(found.some((p) => p.startsWith(message)), found.join("\n")).toBe(true);
  });
});
