/**
 * The Docker host is reached without anyone reading along. Container create bodies carry
 * POSTGRES_PASSWORD, BETTER_AUTH_SECRET and DATABASE_URL; over plain `tcp://` they travel in
 * clear to an API that is root on the host and asks nobody who they are. `ssh://` and `unix://`
 * are safe; `tcp://` is, to loopback or with TLS (client certificate, key and CA on the provider,
 * as Docker's own DOCKER_TLS_VERIFY setup uses).
 */
import type { PolicyProviderResource, ResourceValidationPolicy } from "@pulumi/policy";
import { CONTAINER, DOCKER_PROVIDER, isLoopback, known, UNKNOWN } from "./resources";

/** The host:port a Docker host reaches in clear (tcp:// or http:// to anything but loopback), or undefined. */
export function clearTextTarget(host: string): string | undefined {
  const match = /^(tcp|http):\/\/(\[[^\]]+\]|[^/:]+)(:\d+)?/i.exec(host.trim());
  if (!match) return undefined;
  return isLoopback(match[2]) ? undefined : `${match[2]}${match[3] ?? ""}`;
}

/** Whether the provider's properties give it TLS: certificate, key and CA as material, or a folder holding them. */
export function hasTls(props: Record<string, unknown>): boolean {
  const set = (key: string) => {
    const value = known(() => props[key]);
    return value === UNKNOWN || (typeof value === "string" && value !== "");
  };
  return set("certPath") || (set("caMaterial") && set("certMaterial") && set("keyMaterial"));
}

/** Why a Docker provider reaches its host in clear, or undefined when it does not (or cannot be told yet). */
export function clearTextReason(provider: Pick<PolicyProviderResource, "props">): string | undefined {
  const host = known(() => provider.props.host);
  if (typeof host !== "string") return undefined;
  const target = clearTextTarget(host);
  if (!target || hasTls(provider.props)) return undefined;
  return `reaches ${host} over plain TCP: every container's settings, the database password and the auth secret among them, cross the network in clear to an unauthenticated root API on ${target}`;
}

const FIX = "use ssh://user@host, or give the provider caMaterial, certMaterial and keyMaterial (or certPath) for Docker's TLS port";

export const dockerHostEncrypted: ResourceValidationPolicy = {
  name: "docker-host-encrypted",
  description:
    "The Docker provider reaches its host over unix://, ssh://, loopback, or tcp:// with TLS material; never plain tcp:// across a network. Judged on the provider and on every container that goes through it.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type === DOCKER_PROVIDER) {
      const reason = clearTextReason(args);
      if (reason) report(`Docker provider ${args.name} ${reason}; ${FIX}.`);
      return;
    }
    // A container's create body is what carries the secrets, so it is stopped there too, whatever
    // the engine does with provider resources.
    if (args.type !== CONTAINER) args.notApplicable("applies to Docker providers and containers only");
    const provider = args.provider;
    if (provider?.type !== DOCKER_PROVIDER) return args.notApplicable("the container has no explicit Docker provider");
    const reason = clearTextReason(provider);
    if (reason) report(`container ${args.name} goes through Docker provider ${provider.name}, which ${reason}; ${FIX}.`);
  },
};

export const dockerHostPolicies = [dockerHostEncrypted];
