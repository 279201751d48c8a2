/**
 * No way out of the container: MetaMCP runs whatever MCP servers its users configure, so any of
 * these would hand an MCP server the host. A privileged container or the Docker socket is root
 * on the host; an added capability widens what a compromised process may do; the host's PID
 * namespace lets a container with KILL (the monitor) kill any process on the host.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { posix } from "node:path";
import { CAPABILITY_DEFAULTS, CAPABILITY_SCHEMA, SOCKET_DEFAULTS, SOCKET_SCHEMA, settingsOf } from "./config";
import { type ContainerProps, describeContainer, forContainers, known, roleOf, UNKNOWN } from "./resources";

export const containerNotPrivileged: ResourceValidationPolicy = {
  name: "container-not-privileged",
  description: "No container runs privileged.",
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    if (known(() => props.privileged) === true) {
      report(`${describeContainer(props, args.name)} is privileged: it has every capability and every device of the host.`);
    }
  }),
};

/** Host paths a container mounts: bind mounts and host-path volumes (named volumes are not host paths). */
export function hostPathsOf(props: ContainerProps): string[] {
  const mounts = known(() => props.mounts ?? []);
  const volumes = known(() => props.volumes ?? []);
  const paths: string[] = [];
  if (mounts !== UNKNOWN) {
    for (const mount of mounts) {
      const source = known(() => mount.source);
      if (known(() => mount.type) === "bind" && typeof source === "string") paths.push(source);
    }
  }
  if (volumes !== UNKNOWN) {
    for (const volume of volumes) {
      const hostPath = known(() => volume.hostPath);
      if (typeof hostPath === "string" && hostPath !== "") paths.push(hostPath);
    }
  }
  return paths;
}

/**
 * Whether mounting `hostPath` exposes `socket`: the socket itself, or any directory above it
 * (mounting /run or /var/run hands over the socket just the same).
 */
export function exposesSocket(hostPath: string, socket: string): boolean {
  const path = posix.normalize(hostPath).replace(/(.)\/+$/, "$1");
  const target = posix.normalize(socket);
  return path === target || target.startsWith(path === "/" ? "/" : `${path}/`);
}

export const containerNoDockerSocket: ResourceValidationPolicy = {
  name: "container-no-docker-socket",
  description: "No container mounts the Docker socket (or a directory holding it): that is root on the host.",
  enforcementLevel: "mandatory",
  configSchema: SOCKET_SCHEMA,
  validateResource: forContainers((props, args, report) => {
    const { socketPaths } = settingsOf(args, SOCKET_DEFAULTS);
    for (const path of hostPathsOf(props)) {
      const socket = socketPaths.find((s) => exposesSocket(path, s));
      if (socket) {
        report(`${describeContainer(props, args.name)} mounts ${path} from the host, which exposes ${socket}: anything in it controls Docker.`);
      }
    }
  }),
};

/** "cap_kill" and "CAP_KILL" are both KILL to Docker. */
export function capabilityName(text: string): string {
  return text.trim().toUpperCase().replace(/^CAP_/, "");
}

export const containerCapabilitiesAllowList: ResourceValidationPolicy = {
  name: "container-capabilities-allow-list",
  description: "Containers add no capabilities beyond their role's allow-list (by default only the monitor, only KILL).",
  enforcementLevel: "mandatory",
  configSchema: CAPABILITY_SCHEMA,
  validateResource: forContainers((props, args, report) => {
    const { allowedByRole } = settingsOf(args, CAPABILITY_DEFAULTS);
    const adds = known(() => props.capabilities?.adds ?? []);
    if (adds === UNKNOWN) return;
    const role = roleOf(props);
    const allowed = new Set((role ? allowedByRole[role] ?? [] : []).map(capabilityName));
    const beyond = adds.map(capabilityName).filter((cap) => !allowed.has(cap));
    if (beyond.length > 0) {
      const may = allowed.size ? `may add only ${[...allowed].join(", ")}` : "may add none";
      report(`${describeContainer(props, args.name)} adds ${beyond.join(", ")}; ${role ? `role ${role}` : "an unlabelled container"} ${may}.`);
    }
  }),
};

export const containerNoHostPidNamespace: ResourceValidationPolicy = {
  name: "container-no-host-pid-namespace",
  description: "No container joins the host's PID namespace (pidMode host); the monitor joins MetaMCP's (container:<id>).",
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    if (known(() => props.pidMode) === "host") {
      report(`${describeContainer(props, args.name)} uses pidMode "host": it sees, and with KILL can kill, every process on the host.`);
    }
  }),
};

export const securityPolicies = [containerNotPrivileged, containerNoDockerSocket, containerCapabilitiesAllowList, containerNoHostPidNamespace];
