/**
 * The shell around parseStackConfig: reads this stack's config from the Pulumi runtime and
 * hands secrets on only as Pulumi secrets.
 */
import * as pulumi from "@pulumi/pulumi";
import { foreignConfigKeys } from "./namespaces";
import { parseStackConfig, PROJECT, type StackConfig } from "./parse";
import type { SecretKey } from "./secrets";

export type SecretOutputs = Partial<Record<SecretKey, pulumi.Output<string>>>;

export function loadStackConfig(stack: string = pulumi.getStack()): { config: StackConfig; secrets: SecretOutputs } {
  const prefix = `${PROJECT}:`;
  const values: Record<string, unknown> = {};
  const secretKeys = new Set<string>();
  const allConfig = pulumi.runtime.allConfig();
  for (const [fullKey, text] of Object.entries(allConfig)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    const secret = isConfigSecret(fullKey);
    // Secrets stay text: a password made of digits must not turn into a number.
    values[key] = secret ? text : decode(text);
    if (secret) secretKeys.add(key);
  }
  const { config, secrets, warnings } = parseStackConfig({ stack, values, secretKeys, foreignKeys: foreignConfigKeys(Object.keys(allConfig)) });
  for (const warning of warnings) void pulumi.log.warn(warning);
  const secretOutputs: SecretOutputs = {};
  for (const [key, value] of Object.entries(secrets) as Array<[SecretKey, string]>) {
    secretOutputs[key] = pulumi.secret(value);
  }
  return { config, secrets: secretOutputs };
}

/** Structured values (objects, numbers, booleans) reach programs as JSON text; plain strings do not. */
function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Whether Pulumi holds the key encrypted. The SDK keeps this check internal, so it is
 * reached through the runtime module; the key list it reads is PULUMI_CONFIG_SECRET_KEYS.
 */
function isConfigSecret(fullKey: string): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
  if (typeof runtimeConfig.isConfigSecret !== "function") {
    throw new Error("@pulumi/pulumi no longer exposes isConfigSecret; update infra/config/load.ts");
  }
  return runtimeConfig.isConfigSecret(fullKey);
}
