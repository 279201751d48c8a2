/**
 * The real stack files (Pulumi.<stack>.yaml) as the Pulumi runtime hands them to a program:
 * one entry per key, structured values as JSON text.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { SECRET_KEYS, type RawStackConfig } from "../../infra/config";
import { foreignConfigKeys } from "../../infra/config/namespaces";

export const REPO_ROOT = join(__dirname, "..", "..");

/** Secrets a test stack is given, as `pulumi config set --secret` would store them. */
export const TEST_SECRETS = {
  "metamcp-guard:authSecret": "test-auth-secret-0123456789abcdef0123456789",
  "metamcp-guard:postgresPassword": "test-postgres-password-s3cr3t",
  "metamcp-guard:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\ntest-key\n-----END OPENSSH PRIVATE KEY-----\n",
};

/** A well-formed ed25519 host key that no host has (tests that never connect pin this one). */
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

export type ConfigValues = Record<string, string>;

/** The stack's file: `Pulumi.<stack>.yaml` at the repo root, unless another `file` is named. */
export function readStackFile(stack: string, file = join(REPO_ROOT, `Pulumi.${stack}.yaml`)): ConfigValues {
  const text = readFileSync(file, "utf8");
  const config = (parse(text) as { config?: Record<string, unknown> }).config ?? {};
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}

/**
 * A stack file plus the secrets its settings need. Pass `overrides` to change a structured
 * key by deep merge, e.g. { "metamcp-guard:app": { limits: { pids: 0 } } }.
 */
export function stackValues(stack: string, overrides: Record<string, unknown> = {}, file?: string): { values: ConfigValues; secretKeys: string[] } {
  const values: ConfigValues = { ...readStackFile(stack, file) };
  // The stack file's own host settings: with an SSH host, something is pushed there (slices, or
  // the monitor keeper, which is on by default wherever host.ssh is set) and the key is needed.
  const host = JSON.parse(values["metamcp-guard:host"] ?? "{}") as { slices?: { enabled?: boolean }; ssh?: unknown };
  const secrets: ConfigValues = { ...TEST_SECRETS };
  if (!host.slices?.enabled && host.ssh === undefined) delete secrets["metamcp-guard:sshPrivateKey"];
  Object.assign(values, secrets);
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) {
      delete values[key];
    } else if (isObject(value) && values[key]?.startsWith("{")) {
      values[key] = JSON.stringify(deepMerge(JSON.parse(values[key]), value));
    } else {
      values[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  // Secret keys are secret whether they come from TEST_SECRETS or an override.
  const secretKeys = Object.keys(values).filter((key) => (SECRET_KEYS as readonly string[]).includes(key.replace(/^metamcp-guard:/, "")));
  return { values, secretKeys };
}

/**
 * The same, as parseStackConfig takes it (what loadStackConfig hands it under `pulumi up`): keys
 * without the project prefix, structured values decoded, secrets left as text, keys of other
 * namespaces apart.
 */
export function rawStackConfig(stack: string, overrides: Record<string, unknown> = {}, secretKeys?: string[]): RawStackConfig {
  const { values, secretKeys: keys } = stackValues(stack, overrides);
  const secret = new Set((secretKeys ?? keys).map((key) => key.replace(/^metamcp-guard:/, "")));
  const foreignKeys = foreignConfigKeys(Object.keys(values));
  const decoded = Object.fromEntries(
    Object.entries(values).filter(([key]) => key.startsWith("metamcp-guard:")).map(([key, text]) => {
      const bare = key.replace(/^metamcp-guard:/, "");
      if (secret.has(bare)) return [bare, text];
      try {
        return [bare, JSON.parse(text)];
      } catch {
        return [bare, text];
      }
    }),
  );
  return { stack, values: decoded, secretKeys: secret, foreignKeys };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete merged[key];
    else merged[key] = isObject(value) && isObject(base[key]) ? deepMerge(base[key] as Record<string, unknown>, value) : value;
  }
  return merged;
}
