/**
 * Command-line patterns, and what it costs to match them. A process chooses its own command line,
 * so a hostile one must not be able to stall the monitor or fill its memory. Three bounds:
 *
 * 1. Input: patterns see at most COMMAND_LINE_LIMIT bytes (the reader never keeps more), so even
 *    a pattern that backtracks quadratically costs at most that bound squared per command line.
 * 2. Expressions: every pattern must be one V8's linear-time engine accepts (no backreferences, no
 *    lookaround), which is what makes the next point possible, and V8 is told to move a match
 *    that backtracks excessively onto that engine. That stops exponential blow-ups such as
 *    `(a+)+$`. It does not stop the quadratic cost of an unanchored `x.*y` tried at every start
 *    position, which is why the defaults (contract.ts) are written so they cannot backtrack
 *    quadratically, and why point 1 exists. test/monitor/patterns.test.ts times them on 64 KiB.
 * 3. Memory: which kind a command line is, is remembered per command line (a process's command
 *    line is fixed, and matching every process every scan was a good part of a scan), in a cache
 *    bounded in bytes: distinct command lines from process churn cannot grow it.
 */
import * as v8 from "node:v8";

/** Bytes of a command line the reader keeps (proc/reader.ts) and patterns are matched against. */
export const COMMAND_LINE_LIMIT = 1024;

/** The byte bound of the command-line cache. Its keys are the strings the process table holds already. */
export const COMMAND_CACHE_BYTES = 8 * 1024 ** 2;
/** What one cache entry costs beyond its key's characters (Map slot, hash, value), roughly. */
const CACHE_ENTRY_OVERHEAD = 64;

let linearEngine: boolean | undefined;

/**
 * Asks V8 for its linear-time regexp engine: the `l` flag (used here only to check a pattern) and
 * the fallback onto it for a match that backtracks excessively. Idempotent. Returns whether the
 * `l` flag is understood (Node 16 and later).
 */
export function enableLinearRegexpEngine(): boolean {
  if (linearEngine === undefined) {
    v8.setFlagsFromString("--enable-experimental-regexp-engine");
    v8.setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
    try {
      new RegExp("a", "l");
      linearEngine = true;
    } catch {
      linearEngine = false;
    }
  }
  return linearEngine;
}

/**
 * Compiles a pattern for the backtracking engine, after checking that the linear-time engine can
 * run it too (otherwise V8 could not rescue a runaway match). Throws a SyntaxError that says why.
 */
export function compilePattern(source: string): RegExp {
  const compiled = new RegExp(source);
  if (enableLinearRegexpEngine()) {
    try {
      new RegExp(source, "l");
    } catch {
      throw new SyntaxError("uses backreferences or lookaround, which cannot be matched in linear time; rewrite it without them");
    }
  }
  return compiled;
}

export type CommandKind = "main" | "mcp" | "other";

/**
 * Which patterns a command line matches, remembered per command line. The main-server pattern is
 * tested on its own (mainKind), since a process may match both: the main server's structure decides.
 */
export class CommandMatcher {
  private readonly cache = new Map<string, { mcp: boolean; main: boolean }>();
  private cachedBytes = 0;

  constructor(
    readonly mcpPatterns: readonly RegExp[],
    readonly mainPattern: RegExp,
  ) {}

  /** True when a command line matches an MCP pattern. */
  isMcp(cmdline: string): boolean {
    return this.lookup(cmdline).mcp;
  }

  /** True when a command line matches the main-server pattern. */
  isMain(cmdline: string): boolean {
    return this.lookup(cmdline).main;
  }

  /** The main pattern wins, as it always has for the audit log's summary of a command line. */
  kind(cmdline: string): CommandKind {
    const found = this.lookup(cmdline);
    return found.main ? "main" : found.mcp ? "mcp" : "other";
  }

  /** Characters and entries the cache holds now, as counted against COMMAND_CACHE_BYTES. */
  get cacheBytes(): number {
    return this.cachedBytes;
  }

  private lookup(cmdline: string): { mcp: boolean; main: boolean } {
    let found = this.cache.get(cmdline);
    if (found === undefined) {
      const text = cmdline.length > COMMAND_LINE_LIMIT ? cmdline.slice(0, COMMAND_LINE_LIMIT) : cmdline;
      found = { main: this.mainPattern.test(text), mcp: this.mcpPatterns.some((p) => p.test(text)) };
      this.remember(cmdline, found);
    }
    return found;
  }

  /**
   * Oldest entries go first once the byte bound is reached (a Map iterates in insertion order).
   * Lines longer than the limit (never from the reader, which cuts them) are matched, not kept.
   */
  private remember(cmdline: string, found: { mcp: boolean; main: boolean }): void {
    if (cmdline.length > COMMAND_LINE_LIMIT) return;
    const cost = cmdline.length + CACHE_ENTRY_OVERHEAD;
    for (const key of this.cache.keys()) {
      if (this.cachedBytes + cost <= COMMAND_CACHE_BYTES) break;
      this.cache.delete(key);
      this.cachedBytes -= key.length + CACHE_ENTRY_OVERHEAD;
    }
    this.cache.set(cmdline, found);
    this.cachedBytes += cost;
  }
}
