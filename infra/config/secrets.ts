/**
 * The stack's secrets: top-level config keys that must be stored encrypted. They are
 * checked here for presence, shape and secrecy; the shell wraps them in pulumi.secret()
 * before any resource sees them.
 */
import { passwordCharactersProblem } from "../postgresCredentials/credentials";
import { databaseSchema } from "./schema/database";
import { flag } from "./schema/fields";
import { hostPushers, hostSchema } from "./schema/host";

export const SECRET_KEYS = ["authSecret", "postgresPassword", "databaseUrl", "sshPrivateKey"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export type StackSecrets = Partial<Record<SecretKey, string>>;

/** What decides which secrets a stack needs. */
export interface SecretNeeds {
  databaseMode: "internal" | "external";
  /** The config keys that push something to the host over SSH (see hostPushers). */
  hostPushers: string[];
}

/**
 * SecretNeeds from the settings as written, even when other parts of them are wrong, so that secret
 * problems are reported in the same pass as the rest. A part that is itself wrong counts as its
 * default (its own problem is reported anyway).
 */
export function secretNeeds(values: Record<string, unknown>): SecretNeeds {
  const part = (key: string) => (typeof values[key] === "object" && values[key] !== null ? (values[key] as Record<string, unknown>) : {});
  const mode = databaseSchema.shape.mode.safeParse(part("database").mode);
  const host = hostSchema.safeParse(part("host"));
  const monitorEnabled = flag.safeParse(part("monitor").enabled ?? true);
  return {
    databaseMode: mode.success ? mode.data : "internal",
    hostPushers: host.success ? hostPushers({ host: host.data, monitor: { enabled: monitorEnabled.success ? monitorEnabled.data : true } }) : [],
  };
}

interface SecretRule {
  /** Whether the current settings need this secret. */
  needed(needs: SecretNeeds): boolean;
  /** What the value must look like, or undefined when it is fine. */
  problem(value: string): string | undefined;
  /** Said when the secret is set although the settings do not use it. */
  unused: string;
}

const RULES: Record<SecretKey, SecretRule> = {
  authSecret: {
    needed: () => true,
    problem: (v) => (v.length < 32 ? "must be at least 32 characters (try: openssl rand -hex 32)" : undefined),
    unused: "",
  },
  postgresPassword: {
    needed: (s) => s.databaseMode === "internal",
    problem: (v) => (v.length < 12 ? "must be at least 12 characters" : passwordCharactersProblem(v)),
    unused: "is only used with database.mode internal",
  },
  databaseUrl: {
    needed: (s) => s.databaseMode === "external",
    problem: (v) => (/^postgres(ql)?:\/\/\S+$/.test(v) ? undefined : "must be a postgresql:// URL"),
    unused: "is only used with database.mode external",
  },
  sshPrivateKey: {
    // Whatever is pushed to the host (slices, the monitor keeper) goes over SSH with this key.
    needed: (s) => s.hostPushers.length > 0,
    problem: (v) => (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v) ? undefined : "must be a PEM/OpenSSH private key"),
    unused: "is only used when something is pushed to the host (host.slices.enabled or host.keeper.enabled true, with host.ssh set)",
  },
};

export interface SecretCheckOptions {
  /**
   * Default true. False for tools that read the settings but use no secret (`npm run verify` reads
   * the stack file, where secrets are ciphertext): an absent secret is then not a problem. Secrets
   * that are present are still checked.
   */
  requireSecrets?: boolean;
}

/** Problems with the secrets, as [key, message] pairs; empty when all is well. */
export function checkSecrets(
  needs: SecretNeeds,
  values: Record<string, unknown>,
  secretKeys: ReadonlySet<string>,
  { requireSecrets = true }: SecretCheckOptions = {},
): Array<[SecretKey, string]> {
  const problems: Array<[SecretKey, string]> = [];
  for (const key of SECRET_KEYS) {
    const rule = RULES[key];
    const value = values[key];
    if (value === undefined) {
      if (requireSecrets && rule.needed(needs)) problems.push([key, `is required; set it with: pulumi config set --secret ${key} <value>`]);
      continue;
    }
    if (!secretKeys.has(key)) {
      problems.push([key, `is stored in plain text; remove it and set it with: pulumi config set --secret ${key} <value>`]);
    } else if (typeof value !== "string") {
      problems.push([key, "must be text"]);
    } else if (!rule.needed(needs)) {
      problems.push([key, `${rule.unused}; remove it: pulumi config rm ${key}`]);
    } else {
      const problem = rule.problem(value);
      if (problem) problems.push([key, problem]);
    }
  }
  return problems;
}

/** The secrets the settings use, as plain strings for the caller to wrap at once. */
export function pickSecrets(needs: SecretNeeds, values: Record<string, unknown>): StackSecrets {
  const secrets: StackSecrets = {};
  for (const key of SECRET_KEYS) {
    if (RULES[key].needed(needs) && typeof values[key] === "string") secrets[key] = values[key] as string;
  }
  return secrets;
}
