/**
 * The I/O of verify against the Docker engine: find the stack's containers by label and inspect
 * them, over the same transport as the PidsLimit resource (unix socket, tcp or ssh dial-stdio).
 */
import { LABEL_ROLE, LABEL_STACK, type Role } from "../containerSettings";
import { dockerApiError, dockerRequest, type DockerHost, type DockerRequestOptions } from "../pidsLimit/dockerApi";
import type { FoundContainer } from "./compare";
import type { ContainerInspect } from "./inspect";
import type { HostFiles } from "./hostFiles";
import { readContainerKernel } from "./kernel";
import type { WantedContainer } from "./wanted";

interface ListedContainer {
  Id: string;
  Names?: string[];
  Labels?: Record<string, string> | null;
}

async function getJson(host: DockerHost, path: string, options: DockerRequestOptions): Promise<{ status: number; json: unknown }> {
  const res = await dockerRequest(host, "GET", path, undefined, options);
  if (res.status === 404) return { status: 404, json: undefined };
  if (res.status !== 200) {
    throw dockerApiError("API_ERROR", `GET ${path} failed: ${res.status} ${res.body.trim().slice(0, 300)}`, res.status);
  }
  try {
    return { status: 200, json: JSON.parse(res.body) };
  } catch {
    throw dockerApiError("API_ERROR", `GET ${path}: the engine answered with non-JSON: ${res.body.slice(0, 200)}`, 200);
  }
}

/** Every container, running or not, labelled as this stack's. */
export async function listStackContainers(host: DockerHost, stack: string, options: DockerRequestOptions = {}): Promise<ListedContainer[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${LABEL_STACK}=${stack}`] }));
  const { json } = await getJson(host, `/containers/json?all=1&filters=${filters}`, options);
  return Array.isArray(json) ? (json as ListedContainer[]) : [];
}

/** The inspect document, or undefined when no container has that id or name. */
export async function inspectContainer(host: DockerHost, idOrName: string, options: DockerRequestOptions = {}): Promise<ContainerInspect | undefined> {
  const { status, json } = await getJson(host, `/containers/${encodeURIComponent(idOrName)}/json`, options);
  return status === 404 ? undefined : (json as ContainerInspect);
}

/**
 * For each wanted container: the one labelled with its stack and role (preferring the one with
 * the wanted name), or else a container with the wanted name but without the labels, so a copy
 * re-created by hand is reported by what differs rather than as missing.
 */
export async function findStackContainers(
  host: DockerHost,
  stack: string,
  wanted: readonly WantedContainer[],
  options: DockerRequestOptions & {
    /** The engine host's files (its /proc and cgroups), or why they cannot be read from here. */
    kernel: HostFiles | { unreadable: string };
  },
): Promise<Map<Role, FoundContainer | undefined>> {
  const listed = await listStackContainers(host, stack, options);
  const found = new Map<Role, FoundContainer | undefined>();
  for (const container of wanted) {
    const labelled = listed.filter((c) => c.Labels?.[LABEL_ROLE] === container.role);
    const chosen = labelled.find((c) => c.Names?.includes(`/${container.name}`)) ?? labelled[0];
    const inspect = await inspectContainer(host, chosen?.Id ?? container.name, options);
    if (!inspect) {
      found.set(container.role, undefined);
      continue;
    }
    found.set(container.role, {
      inspect,
      kernel: "read" in options.kernel ? await readContainerKernel(inspect, options.kernel) : { readable: false, reason: options.kernel.unreadable },
      alsoLabelled: labelled.filter((c) => c.Id !== inspect.Id).map((c) => (c.Names?.[0] ?? c.Id).replace(/^\//, "")),
    });
  }
  return found;
}
