/**
 * What a hostile command line can cost the matcher: the default patterns on 64 KiB adversarial
 * lines (raw, without the length bound, to show they are linear by construction, and through the
 * matcher as the monitor runs them), an operator's pattern with an exponential shape, the patterns
 * refused, and the cache's byte bound.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_MAIN_PATTERN, DEFAULT_MCP_PATTERNS } from "../../monitor/src/contract";
import { COMMAND_CACHE_BYTES, COMMAND_LINE_LIMIT, CommandMatcher, compilePattern } from "../../monitor/src/patterns";

const KIB64 = 64 * 1024;
/** A line of `unit` repeated to 64 KiB. */
const repeated = (unit: string) => unit.repeat(Math.ceil(KIB64 / unit.length)).slice(0, KIB64);

/**
 * Lines built from the pieces the patterns look for, so that a backtracking engine finds a partial
 * match at every position: "/node " for `node\s.*mcp`, "/python3 -m " runs, long runs of the
 * characters a quantifier takes, separators.
 */
const HOSTILE: Array<[string, string]> = [
  ["/node repeated", repeated("/node ")],
  ["node then spaces", `node${" ".repeat(KIB64 - 4)}`],
  ["/python -m repeated", repeated("/python3.1 -m ")],
  ["python then digits", `/python${"1.".repeat(KIB64 / 2 - 4)}`],
  ["python then spaces", `/python${" ".repeat(KIB64 - 7)}`],
  ["npm, npx, uvx repeated", repeated(" npm npx uvx /npm-cli.js /npx-cli.js")],
  ["a first word of slashes", `${"/node".repeat(KIB64 / 5 - 1)} x`],
  ["one long run", "a".repeat(KIB64)],
  ["NUL-free garbage", repeated("\t/\\ ./(^|)*+?")],
];

/** The best of three runs (a busy machine does not decide). */
function bestMs(run: () => void): number {
  return Math.min(
    ...[0, 1, 2].map(() => {
      const started = performance.now();
      run();
      return performance.now() - started;
    }),
  );
}

describe("the default patterns", () => {
  const patterns = [...DEFAULT_MCP_PATTERNS, DEFAULT_MAIN_PATTERN].map(compilePattern);

  it.each(HOSTILE)("run in linear time on 64 KiB, without the length bound: %s", (_, line) => {
    for (const pattern of patterns) expect(bestMs(() => pattern.test(line)), pattern.source).toBeLessThan(3);
  });

  it("are hostile-tested with lines that do stall a quadratic pattern (the one the defaults replaced)", () => {
    const quadratic = /(^|\/)node\s.*mcp/;
    expect(bestMs(() => quadratic.test(HOSTILE[0][1]))).toBeGreaterThan(50);
  });

  it.each(HOSTILE)("through the matcher, as the monitor runs them, cost a few ms on 64 KiB: %s", (_, line) => {
    const matcher = new CommandMatcher(DEFAULT_MCP_PATTERNS.map(compilePattern), compilePattern(DEFAULT_MAIN_PATTERN));
    expect(bestMs(() => matcher.kind(`${line}${Math.random()}`))).toBeLessThan(3);
  });
});

describe("compilePattern", () => {
  it.each(["(node) \\1", "(?<n>x)\\k<n>", "npx(?!-cli)", "(?=x)x", "(?<=/)node"])("refuses %s: no linear-time engine can run it", (source) => {
    expect(() => compilePattern(source)).toThrow(/backreferences or lookaround/);
  });

  it("keeps an operator's exponential pattern from stalling the monitor: V8 moves the match to its linear engine", () => {
    const exponential = compilePattern("^(a+)+$");
    const line = `${"a".repeat(COMMAND_LINE_LIMIT - 1)}!`;
    expect(bestMs(() => exponential.test(line))).toBeLessThan(50);
  });
});

describe("CommandMatcher", () => {
  const matcher = () => new CommandMatcher(DEFAULT_MCP_PATTERNS.map(compilePattern), compilePattern(DEFAULT_MAIN_PATTERN));

  it("matches on the first COMMAND_LINE_LIMIT characters only", () => {
    const m = matcher();
    expect(m.isMcp(`npm exec ${"x".repeat(COMMAND_LINE_LIMIT)}`)).toBe(true);
    expect(m.isMcp(`${"x".repeat(COMMAND_LINE_LIMIT)} npm exec y`)).toBe(false);
  });

  it("tells main and MCP matches apart, for the same line", () => {
    const m = matcher();
    expect([m.isMain("node dist/index.js"), m.isMcp("node dist/index.js")]).toEqual([true, false]);
    expect(m.kind("npx -y x")).toBe("mcp");
  });

  it("keeps its cache within its byte bound however many distinct lines it sees", () => {
    const m = matcher();
    const line = (i: number) => `${i} `.padEnd(COMMAND_LINE_LIMIT, "y");
    const count = Math.ceil((2 * COMMAND_CACHE_BYTES) / COMMAND_LINE_LIMIT);
    for (let i = 0; i < count; i++) m.isMcp(line(i));
    expect(m.cacheBytes).toBeLessThanOrEqual(COMMAND_CACHE_BYTES);
    expect(m.cacheBytes).toBeGreaterThan(COMMAND_CACHE_BYTES / 2);
    // The newest lines are kept, the oldest went first.
    expect(m.isMcp(line(count - 1))).toBe(false);
    expect(m.cacheBytes).toBeLessThanOrEqual(COMMAND_CACHE_BYTES);
  });

  it("does not keep lines longer than the limit (the reader never passes one)", () => {
    const m = matcher();
    m.isMcp("z".repeat(KIB64));
    expect(m.cacheBytes).toBe(0);
  });
});
