/**
 * Reads a stack's settings straight from `Pulumi.<stack>.yaml`, without the Pulumi CLI or its
 * state: verify must work on a host where only this checkout exists, and must see the config as
 * written, not as a (possibly stale) deployment remembers it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { parseStackConfig, PROJECT, type StackConfig } from "../config";
import { foreignConfigKeys } from "../config/namespaces";

/** The stack file cannot be found or read: the message says which file and what stacks exist. */
export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
  }
}

/**
 * This project's keys without the `metamcp-guard:` prefix (pure). Values Pulumi holds encrypted
 * (`{ secure: "v1:…" }`) are left out: verify cannot decrypt them and uses no secret.
 */
export function projectValues(document: unknown): Record<string, unknown> {
  const config = (document as { config?: unknown } | null)?.config;
  if (config === undefined || config === null) return {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new StackFileError("the stack file's `config` is not a mapping of keys to values");
  }
  const prefix = `${PROJECT}:`;
  return Object.fromEntries(
    Object.entries(config as Record<string, unknown>)
      .filter(([key, value]) => key.startsWith(prefix) && !isEncrypted(value))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
}

function isEncrypted(value: unknown): boolean {
  return typeof value === "object" && value !== null && "secure" in value;
}

/** The stacks that have a `Pulumi.<stack>.yaml` in `projectDir`, for "unknown stack" messages. */
export function knownStacks(projectDir: string): string[] {
  return readdirSync(projectDir)
    .map((file) => /^Pulumi\.(.+)\.ya?ml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();
}

/**
 * The stack's config, validated by the same parser `pulumi up` uses (secrets not required).
 * `configFile` overrides the default `<projectDir>/Pulumi.<stack>.yaml`. Throws StackFileError
 * for a missing or unparsable file, ConfigError for settings the program would refuse.
 */
export function readStackConfig(stack: string, options: { projectDir: string; configFile?: string }): StackConfig {
  const file = resolve(options.configFile ?? join(options.projectDir, `Pulumi.${stack}.yaml`));
  if (!existsSync(file)) {
    if (options.configFile) throw new StackFileError(`config file ${file} does not exist`);
    const stacks = knownStacks(options.projectDir);
    throw new StackFileError(
      `unknown stack "${stack}": there is no ${file}` +
        (stacks.length > 0 ? `; stacks here: ${stacks.join(", ")}` : `; no stack files in ${dirname(file)}`),
    );
  }
  let document: unknown;
  try {
    document = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new StackFileError(`${file} is not valid YAML: ${(error as Error).message}`);
  }
  const values = projectValues(document);
  const keys = Object.keys((document as { config?: Record<string, unknown> } | null)?.config ?? {});
  return parseStackConfig({ stack, values, secretKeys: new Set(), foreignKeys: foreignConfigKeys(keys) }, { requireSecrets: false }).config;
}
