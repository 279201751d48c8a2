/**
 * The part of the Engine API's container inspect document (`GET /containers/{id}/json`) verify
 * reads. Every field is optional: engines leave out what was never set (`Init`, `Healthcheck`),
 * and verify must report that as "not in force" rather than crash on it.
 */
export interface ContainerInspect {
  Id: string;
  /** What is mounted in force, binds made with -v and --mount alike. */
  Mounts?: Array<{ Type?: string; Source?: string; Destination?: string }> | null;
  /** With Docker's leading slash: "/metamcp-dev". */
  Name?: string;
  State?: { Status?: string; Running?: boolean; Pid?: number };
  Config?: {
    Labels?: Record<string, string> | null;
    Healthcheck?: { Test?: string[] | null } | null;
  };
  HostConfig?: {
    Memory?: number;
    MemorySwap?: number;
    NanoCpus?: number;
    PidsLimit?: number | null;
    Init?: boolean | null;
    RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
    LogConfig?: { Type?: string; Config?: Record<string, string> | null } | null;
    CgroupParent?: string;
    /** As written at create (`no-new-privileges`, `no-new-privileges:true`, …); see securityOption. */
    SecurityOpt?: string[] | null;
    /** As written at create: engines differ on the CAP_ prefix and case (the 20.10 CLI sends CAP_KILL). */
    CapAdd?: string[] | null;
    CapDrop?: string[] | null;
    Privileged?: boolean;
    ReadonlyRootfs?: boolean;
    /** "" for the container's own namespace, "host", or "container:<id>" (a name given at create reads back as the id). */
    PidMode?: string;
    /** `-v` binds, "source:target[:options]"; a source without a leading slash is a named volume. */
    Binds?: string[] | null;
    /** `--mount` requests. */
    Mounts?: Array<{ Type?: string; Source?: string; Target?: string }> | null;
  };
}

/** The name as people type it: Docker reports "/name". */
export function containerNameOf(inspect: ContainerInspect): string {
  return (inspect.Name ?? "").replace(/^\//, "");
}

/**
 * Host paths bind-mounted into the container: those in force (Mounts) and those asked for at
 * create (HostConfig.Binds, HostConfig.Mounts), once each. Named volumes are not host paths.
 */
export function boundHostPaths(inspect: ContainerInspect): string[] {
  const host = inspect.HostConfig ?? {};
  const fromBinds = (host.Binds ?? []).map((bind) => bind.split(":")[0]).filter((source) => source.startsWith("/"));
  const binds = [...(host.Mounts ?? []), ...(inspect.Mounts ?? [])].filter((mount) => mount.Type === "bind");
  return [...new Set([...fromBinds, ...binds.flatMap((mount) => (mount.Source ? [mount.Source] : []))])];
}

/**
 * A `--security-opt` as the daemon reads it: `name=value`, the older `name:value`, or a bare
 * `no-new-privileges` (true). Boolean words the daemon accepts (Go's ParseBool: 1, t, TRUE, …)
 * become "true"/"false", so `no-new-privileges` and `no-new-privileges:true` compare equal.
 */
export function securityOption(text: string): [name: string, value: string] {
  const separator = text.includes("=") ? "=" : ":";
  const at = text.indexOf(separator);
  if (at < 0) return [text, "true"];
  const value = text.slice(at + 1);
  if (/^(1|t|T|TRUE|true|True)$/.test(value)) return [text.slice(0, at), "true"];
  if (/^(0|f|F|FALSE|false|False)$/.test(value)) return [text.slice(0, at), "false"];
  return [text.slice(0, at), value];
}
