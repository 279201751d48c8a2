/**
 * An external database, given as the `databaseUrl` secret. MetaMCP's entrypoint waits for its
 * database with `pg_isready -h $POSTGRES_HOST -p $POSTGRES_PORT -U $POSTGRES_USER` before it starts,
 * defaulting the host to `postgres`: without these variables it would wait for a host that does not
 * exist, forever. The internal Postgres component sets them for itself; here they come from the URL.
 */
import * as pulumi from "@pulumi/pulumi";

/** POSTGRES_HOST, POSTGRES_PORT and POSTGRES_USER for a postgresql:// URL (pure; the password stays out). */
export function readinessEnv(databaseUrl: string): Record<"POSTGRES_HOST" | "POSTGRES_PORT" | "POSTGRES_USER", string> {
  const url = new URL(databaseUrl);
  return {
    POSTGRES_HOST: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    POSTGRES_PORT: url.port || "5432",
    POSTGRES_USER: decodeURIComponent(url.username) || "postgres",
  };
}

/** The same as `NAME=value` entries for a container's envs, secret because they come from a secret. */
export function readinessEnvs(databaseUrl: pulumi.Output<string>): pulumi.Output<string>[] {
  return (["POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER"] as const).map((name) =>
    pulumi.secret(databaseUrl.apply((url) => `${name}=${readinessEnv(url)[name]}`)),
  );
}
