/**
 * Field types shared by every part of the stack config. Each one turns the text people
 * write in a stack file into the value the program uses, and says what is allowed when
 * the text is wrong: the loader puts the key in front of these messages.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { parseCpus, parseSize, formatSize } from "../units";

/**
 * An object that refuses keys it does not know, so a typo such as `memroy` fails instead of
 * silently falling back to a default. The message lists the keys that are allowed.
 */
export function strictObject<Shape extends z.ZodRawShape>(shape: Shape, alsoAllowed: readonly string[] = []) {
  const allowed = [...Object.keys(shape), ...alsoAllowed].join(", ");
  return z.strictObject(shape, {
    error: (issue) => (issue.code === "unrecognized_keys" ? `is not a known key; allowed: ${allowed}` : undefined),
  });
}

/** A size such as "512m" or "4g", in bytes, between `min` and `max` bytes. */
export function size(min: number, max: number) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const bytes = typeof value === "string" ? parseSize(value) : undefined;
    if (bytes === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not a size; write a number with a unit, such as 512m or 4g`,
      });
      return z.NEVER;
    }
    if (bytes < min || bytes > max) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is out of range; allowed: ${formatSize(min)} to ${formatSize(max)}`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}

/** A CPU count such as 2 or "1.5", between `min` and `max`. */
export function cpuCount(min: number, max: number) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const cpus = parseCpus(value);
    if (cpus === undefined || cpus < min || cpus > max) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not a CPU count from ${min} to ${max} (such as 1 or 1.5)`,
      });
      return z.NEVER;
    }
    return cpus;
  });
}

/**
 * A whole number from `min` to `max`. Digit strings are accepted too, because
 * `pulumi config set --path` stores what it is given as text.
 */
export function wholeNumber(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const text = String(value).trim();
    const number = /^-?\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not a whole number from ${min} to ${max}`,
      });
      return z.NEVER;
    }
    return number;
  });
}

/** true/false, also as the text "true"/"false" that the CLI stores. */
export const flag = z.union([z.boolean(), z.enum(["true", "false"])]).transform((value, ctx) => {
  void ctx;
  return value === true || value === "true";
});

/** A Go-style duration as Docker's health checks take it: 500ms, 30s, 1m, 1h. */
export const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h)$/, { message: "is not a duration; write a whole number with ms, s, m or h, such as 30s" });

/** A duration above zero: for a health check's interval or timeout, 0 would mean Docker's own default. */
export const positiveDuration = duration.refine((text) => !/^0+(ms|s|m|h)$/.test(text), {
  error: (issue) => `${JSON.stringify(issue.input)} is zero; write a duration above 0, such as 5s`,
});

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration written like `duration` (30s, 5m, 24h), in milliseconds, from `minMs` to `maxMs`. */
export function durationMs(minMs: number, maxMs: number) {
  return z.string().transform((text, ctx) => {
    const match = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
    const ms = match ? Number(match[1]) * DURATION_MS[match[2]] : NaN;
    if (!(ms >= minMs && ms <= maxMs)) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(text)} is not a duration from ${formatMs(minMs)} to ${formatMs(maxMs)} (such as 30m)`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

function formatMs(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * An image reference as Docker parses it (distribution's reference grammar): an optional registry host
 * with port, lowercase path components joined by `/`, then an optional tag (letters of either case,
 * digits, `_`, `.`, `-`, up to 128) and an optional sha256 digest.
 */
const DOMAIN = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?`;
const PATH_COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const IMAGE_REFERENCE = new RegExp(
  String.raw`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

export const imageRef = z.string().refine((text) => text.length <= 255 && IMAGE_REFERENCE.test(text), {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not an image reference; write repository:tag or repository@sha256:<digest> ` +
    "(repository in lowercase, such as ghcr.io/metatool-ai/metamcp:2.4.22)",
});

/** The tag of an image reference, or undefined when it has none (a digest is not a tag). */
export function imageTag(reference: string): string | undefined {
  const withoutDigest = reference.split("@")[0];
  const lastPart = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = lastPart.indexOf(":");
  return colon < 0 ? undefined : lastPart.slice(colon + 1);
}

/** Restart policies that bring a crashed or OOM-killed container back. `no` is not offered. */
export const restartPolicy = z.enum(["always", "unless-stopped", "on-failure"], {
  message: "is not a restart policy; allowed: always, unless-stopped, on-failure",
});

/** A name Docker accepts for containers, volumes and networks: two characters or more. */
export const dockerName = z.string().refine((text) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(text), {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a Docker name; use two or more letters, digits, '_', '.' and '-', starting with a letter or digit`,
});

/**
 * The prefix of every name the stack gives: containers, volumes, networks, the built images' repository
 * (`<prefix>-monitor`), which Docker wants in lowercase, and systemd units on the host, where a '-'
 * nests a slice in another. So: lowercase letters and digits, parts joined by one '-', '_' or '.'.
 */
export function isNamePrefix(text: string): boolean {
  return /^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/.test(text) && text.length >= 2 && text.length <= 48;
}

/** What a name prefix must be, for the messages that refuse one. */
export const NAME_PREFIX_RULE =
  "use 2 to 48 lowercase letters and digits, parts joined by single '-', '_' or '.' (such as metamcp-staging): " +
  "it names containers, the built images and the host's systemd units";

export const namePrefix = z.string().refine(isNamePrefix, {
  error: (issue) => `${JSON.stringify(issue.input)} is not a name prefix; ${NAME_PREFIX_RULE}`,
});

/** An IP address (v4 or v6), as `node:net` reads one; host names are not accepted where Docker binds. */
export const ipAddress = z.string().refine((text) => isIP(text) !== 0, {
  error: (issue) => `${JSON.stringify(issue.input)} is not an IP address (such as 127.0.0.1, 0.0.0.0 or ::1)`,
});

/** Environment variable names as POSIX shells accept them. */
export const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "is not an environment variable name" });

/** Container labels: free text, but keys must be non-empty. */
export const labels = z.record(z.string().min(1, { message: "label keys must not be empty" }), z.string());
