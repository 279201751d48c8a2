/**
 * Environment variables → validated settings. A bad value stops the monitor before its first scan
 * with one line per problem, each naming the variable, so a typo in the stack never turns into a
 * monitor that silently reaps with a default.
 *
 * The units parsed here (durations like the stack's health-check durations, sizes with Docker's
 * binary suffixes) match infra/config; they are repeated rather than imported because the monitor
 * image is built from monitor/ alone.
 */
import { z } from "zod";
import { DEFAULTS, ENV, type SettingName } from "./contract";
import { compilePattern } from "./patterns";

export interface Settings {
  intervalMs: number;
  orphanGraceMs: number;
  killGraceMs: number;
  /** "off" means no cap. */
  maxGroups: number | "off";
  /** Bytes; 0 means no budget. */
  rssBudgetBytes: number;
  /** 0 means no emergency sweep for tasks. */
  emergencyTasks: number;
  /** Bytes of anonymous memory (RssAnon summed, MONITOR_EMERGENCY_RSS); 0 means no emergency sweep for memory. */
  emergencyAnonymousBytes: number;
  emergencyFloor: number;
  dryRun: boolean;
  mcpPatterns: RegExp[];
  mainPattern: RegExp;
  metricsHost: string;
  metricsPort: number;
  procRoot: string;
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid monitor settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Whole milliseconds for "500ms", "5s", "2m", "1h"; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  return match ? Number(match[1]) * DURATION_UNITS_MS[match[2]] : undefined;
}

/** Bytes for "0", "1048576", "512m", "3g" (binary multiples, as Docker reads them). */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(text.trim());
  return match ? Math.round(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]) : undefined;
}

function duration(minMs: number, maxMs: number) {
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a duration; write a whole number with ms, s, m or h, such as 5s` });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is out of range; allowed: ${minMs}ms to ${maxMs / 1000}s` });
      return z.NEVER;
    }
    return ms;
  });
}

function wholeNumber(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    const number = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return number;
  });
}

/** "off", or a whole number in range; 0 is refused rather than read as "keep none". */
function capOrOff(max: number) {
  return z.string().transform((text, ctx): number | "off" => {
    if (text.trim().toLowerCase() === "off") return "off";
    const number = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (number === 0) {
      ctx.addIssue({ code: "custom", message: `"0" would reap every live MCP group; write off for no cap, or a number from 1 to ${max}` });
      return z.NEVER;
    }
    if (!Number.isSafeInteger(number) || number < 1 || number > max) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is neither off nor a whole number from 1 to ${max}` });
      return z.NEVER;
    }
    return number;
  });
}

const size = z.string().transform((text, ctx) => {
  if (text.trim().toLowerCase() === "off") return 0;
  const bytes = parseSize(text);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a size; write bytes or a number with k, m or g, such as 3g (0 or off turns it off)` });
    return z.NEVER;
  }
  return bytes;
});

const bool = z.string().transform((text, ctx) => {
  const lower = text.trim().toLowerCase();
  if (["true", "1", "yes"].includes(lower)) return true;
  if (["false", "0", "no"].includes(lower)) return false;
  ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a boolean; write true or false` });
  return z.NEVER;
});

function compile(source: string, ctx: z.RefinementCtx, where = ""): RegExp {
  try {
    return compilePattern(source);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `${where}${JSON.stringify(source)} is not a regular expression: ${(err as Error).message}` });
    return z.NEVER;
  }
}

const pattern = z.string().min(1, { message: "must not be empty" }).transform((text, ctx) => compile(text, ctx));

const patternList = z.string().transform((text, ctx) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === "string" && p !== "")) {
    ctx.addIssue({ code: "custom", message: 'must be a non-empty JSON array of regular expressions, such as ["npm exec", "uvx\\\\s"]' });
    return z.NEVER;
  }
  return (parsed as string[]).map((source, i) => compile(source, ctx, `item ${i}: `));
});

const host = z
  .string()
  .refine((text) => /^(\d{1,3}\.){3}\d{1,3}$/.test(text) || /^[0-9a-fA-F:]+$/.test(text), {
    message: "is not an IP address (such as 127.0.0.1 or 0.0.0.0)",
  });

const procRoot = z.string().regex(/^\//, { message: "must be an absolute path" });

/** One schema per setting; the keys are the contract's setting names, the messages name the variable. */
const fields = {
  interval: duration(100, 3_600_000),
  orphanGrace: duration(0, 86_400_000),
  killGrace: duration(0, 600_000),
  maxGroups: capOrOff(100_000),
  rssBudget: size,
  emergencyTasks: wholeNumber(0, 4_194_304),
  emergencyRss: size,
  emergencyFloor: wholeNumber(0, 100_000),
  dryRun: bool,
  mcpPatterns: patternList,
  mainPattern: pattern,
  metricsHost: host,
  metricsPort: wholeNumber(1, 65_535),
  procRoot,
} satisfies Record<SettingName, z.ZodType<unknown, string>>;

/** The settings, or a SettingsError listing every bad variable. Unset and empty variables take their defaults. */
export function loadSettings(env: Readonly<Record<string, string | undefined>>): Settings {
  const problems: string[] = [];
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(fields) as SettingName[]) {
    const raw = env[ENV[name]];
    const text = raw === undefined || raw.trim() === "" ? DEFAULTS[name] : raw;
    const result = fields[name].safeParse(text);
    if (result.success) values[name] = result.data;
    else problems.push(...result.error.issues.map((issue) => `${ENV[name]}: ${issue.message}`));
  }
  if (problems.length > 0) throw new SettingsError(problems);
  const v = values as { [K in SettingName]: z.output<(typeof fields)[K]> };
  return {
    intervalMs: v.interval,
    orphanGraceMs: v.orphanGrace,
    killGraceMs: v.killGrace,
    maxGroups: v.maxGroups,
    rssBudgetBytes: v.rssBudget,
    emergencyTasks: v.emergencyTasks,
    emergencyAnonymousBytes: v.emergencyRss,
    emergencyFloor: v.emergencyFloor,
    dryRun: v.dryRun,
    mcpPatterns: v.mcpPatterns,
    mainPattern: v.mainPattern,
    metricsHost: v.metricsHost,
    metricsPort: v.metricsPort,
    procRoot: v.procRoot.replace(/\/+$/, "") || "/",
  };
}
