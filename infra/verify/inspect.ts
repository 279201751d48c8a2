/**
 * The part of the Engine API's container inspect document (`GET /containers/{id}/json`) verify
 * reads. Every field is optional: engines leave out what was never set (`Init`, `Healthcheck`),
 * and verify must report that as "not in force" rather than crash on it.
 */
export interface ContainerInspect {
  Id: string;
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
  };
}

/** The name as people type it: Docker reports "/name". */
export function containerNameOf(inspect: ContainerInspect): string {
  return (inspect.Name ?? "").replace(/^\//, "");
}
