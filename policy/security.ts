/**
 * No way out of the container: MetaMCP runs whatever MCP servers its users configure, so any of
 * these would hand an MCP server the host. A privileged container or the Docker socket is root
 * on the host; an added capability widens what a compromised process may do; a process that can
 * gain privileges (setuid binaries) or runs without seccomp and AppArmor reaches the kernel's
 * whole surface.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { posix } from "node:path";
import { CAPABILITY_DEFAULTS, CAPABILITY_SCHEMA, SOCKET_DEFAULTS, SOCKET_SCHEMA, settingsOf } from "./config";
import { CONTAINER, type ContainerProps, describeContainer, forContainers, known, roleOf, UNKNOWN, VOLUME } from "./resources";

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

/**
 * The host path a volume's local-driver options mount, and how: `o=bind` (or rbind) binds a
 * host directory; any other `device` under /dev mounts a block device (`type=ext4,device=/dev/sda`).
 * Other drivers (nfs addresses, plugins) name nothing on this host.
 */
export function hostPathOfVolumeOptions(driver: unknown, options: unknown): { kind: "bind" | "device"; path: string } | undefined {
  if (driver !== undefined && driver !== null && driver !== "" && driver !== "local") return undefined;
  if (!options || typeof options !== "object") return undefined;
  const { o, device } = options as Record<string, unknown>;
  if (typeof device !== "string" || device === "") return undefined;
  const flags = typeof o === "string" ? o.split(",").map((flag) => flag.trim()) : [];
  if (flags.includes("bind") || flags.includes("rbind")) return { kind: "bind", path: device };
  if (device.startsWith("/dev/")) return { kind: "device", path: device };
  return undefined;
}

/**
 * Host paths a container mounts: bind mounts, host-path volumes, and volumes it defines inline
 * whose options bind a host path (named volumes are judged as Volume resources).
 */
export function hostPathsOf(props: ContainerProps): string[] {
  const mounts = known(() => props.mounts ?? []);
  const volumes = known(() => props.volumes ?? []);
  const paths: string[] = [];
  if (mounts !== UNKNOWN) {
    for (const mount of mounts) {
      const source = known(() => mount.source);
      const type = known(() => mount.type);
      if (type === "bind" && typeof source === "string") paths.push(source);
      if (type === "volume") {
        const options = known(() => mount.volumeOptions);
        if (options === UNKNOWN || !options) continue;
        const inline = hostPathOfVolumeOptions(known(() => options.driverName), known(() => options.driverOptions));
        if (inline) paths.push(inline.path);
      }
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

/** Whether mounting `hostPath` hands over `target`: the path itself or any directory above it. */
export function covers(hostPath: string, target: string): boolean {
  const path = posix.normalize(hostPath).replace(/(.)\/+$/, "$1");
  const normalized = posix.normalize(target);
  return path === normalized || normalized.startsWith(path === "/" ? "/" : `${path}/`);
}

/**
 * Whether mounting `hostPath` exposes `socket`: the socket itself, or any directory above it
 * (mounting /run or /var/run hands over the socket just the same).
 */
export function exposesSocket(hostPath: string, socket: string): boolean {
  return covers(hostPath, socket);
}

export const containerNoDockerSocket: ResourceValidationPolicy = {
  name: "container-no-docker-socket",
  description:
    "No container mounts a container engine's API socket (Docker, containerd, …) or a directory holding it, by bind mount, host-path volume, bind volume or another container's volumes: that is root on the host.",
  enforcementLevel: "mandatory",
  configSchema: SOCKET_SCHEMA,
  validateResource: (args, report) => {
    const { socketPaths } = settingsOf(args, SOCKET_DEFAULTS);
    const exposed = (path: string) => socketPaths.find((s) => exposesSocket(path, s));
    if (args.type === VOLUME) {
      // A named volume with `o=bind` is a bind mount under another name: judged where it is declared.
      const bind = hostPathOfVolumeOptions(known(() => args.props.driver), known(() => args.props.driverOpts));
      const socket = bind?.kind === "bind" ? exposed(bind.path) : undefined;
      if (bind && socket) report(`volume ${args.name} binds ${bind.path} from the host, which exposes ${socket}: any container that mounts it controls the engine.`);
      return;
    }
    if (args.type !== CONTAINER) args.notApplicable("applies to docker containers and volumes only");
    const props = args.props as ContainerProps;
    const name = describeContainer(props, args.name);
    for (const path of hostPathsOf(props)) {
      const socket = exposed(path);
      if (socket) report(`${name} mounts ${path} from the host, which exposes ${socket}: anything in it controls the engine.`);
    }
    const volumes = known(() => props.volumes ?? []);
    if (volumes === UNKNOWN) return;
    for (const volume of volumes) {
      const from = known(() => volume.fromContainer);
      if (typeof from === "string" && from !== "") {
        report(`${name} mounts every volume of container ${from}, which the pack cannot judge from here: mount what it needs by name.`);
      }
    }
  },
};

/** "cap_kill" and "CAP_KILL" are both KILL to Docker. */
export function capabilityName(text: string): string {
  return text.trim().toUpperCase().replace(/^CAP_/, "");
}

export const containerCapabilitiesAllowList: ResourceValidationPolicy = {
  name: "container-capabilities-allow-list",
  description:
    "Containers add no capabilities beyond their role's allow-list (by default only the monitor, only KILL), and a container that adds one drops ALL first.",
  enforcementLevel: "mandatory",
  configSchema: CAPABILITY_SCHEMA,
  validateResource: forContainers((props, args, report) => {
    const { allowedByRole } = settingsOf(args, CAPABILITY_DEFAULTS);
    const adds = known(() => props.capabilities?.adds ?? []);
    const drops = known(() => props.capabilities?.drops ?? []);
    if (adds === UNKNOWN) return;
    const role = roleOf(props);
    const name = describeContainer(props, args.name);
    const allowed = new Set((role ? allowedByRole[role] ?? [] : []).map(capabilityName));
    const beyond = adds.map(capabilityName).filter((cap) => !allowed.has(cap));
    if (beyond.length > 0) {
      const may = allowed.size ? `may add only ${[...allowed].join(", ")}` : "may add none";
      report(`${name} adds ${beyond.join(", ")}; ${role ? `role ${role}` : "an unlabelled container"} ${may}.`);
    }
    // An add on top of Docker's default set keeps CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, … as well:
    // least privilege is the one capability on top of none.
    if (adds.length > 0 && drops !== UNKNOWN && !drops.map(capabilityName).includes("ALL")) {
      report(`${name} adds ${adds.map(capabilityName).join(", ")} but does not drop ALL: it keeps Docker's default capabilities on top; set capabilities.drops to ["ALL"].`);
    }
  }),
};

/** A security option split the two ways Docker accepts it: `key=value` and the older `key:value`. */
export function securityOption(option: string): { key: string; value: string | undefined } {
  const at = option.search(/[=:]/);
  return at < 0 ? { key: option.trim().toLowerCase(), value: undefined } : { key: option.slice(0, at).trim().toLowerCase(), value: option.slice(at + 1).trim() };
}

/** Whether the options turn no-new-privileges on (`no-new-privileges`, `=true`, `:true`); the last one wins, as in Docker. */
export function hasNoNewPrivileges(options: string[]): boolean {
  let on = false;
  for (const { key, value } of options.map(securityOption)) {
    if (key === "no-new-privileges") on = value === undefined || value.toLowerCase() === "true";
  }
  return on;
}

export const containerNoNewPrivileges: ResourceValidationPolicy = {
  name: "container-no-new-privileges",
  description: "Every container sets securityOpts no-new-privileges: no process in it gains privileges through a setuid binary or file capabilities.",
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    const options = known(() => props.securityOpts ?? []);
    if (options === UNKNOWN) return;
    if (!hasNoNewPrivileges(options)) {
      report(`${describeContainer(props, args.name)} does not set no-new-privileges: add "no-new-privileges:true" to securityOpts.`);
    }
  }),
};

/**
 * What each unconfining option takes away. The seccomp profile is what blocks the syscalls most
 * escapes use (keyctl, bpf, mount, open_by_handle_at, unshare with new user namespaces);
 * no-new-privileges does not narrow them, so unconfined fails with it as well.
 */
const UNCONFINING: { key: string; value: string; takes: string }[] = [
  { key: "seccomp", value: "unconfined", takes: "the seccomp filter that blocks the syscalls escapes use (mount, keyctl, bpf, open_by_handle_at, …)" },
  { key: "apparmor", value: "unconfined", takes: "AppArmor's docker-default profile (no writes to /proc/sys, no mount)" },
  { key: "label", value: "disable", takes: "SELinux's container label" },
  { key: "systempaths", value: "unconfined", takes: "the masking of /proc/kcore, /proc/sysrq-trigger, /sys/firmware, …" },
];

/** The confinements `options` switch off, as message fragments. */
export function unconfinedBy(options: string[]): string[] {
  return options.flatMap((option) => {
    const { key, value } = securityOption(option);
    const hit = UNCONFINING.find((u) => u.key === key && u.value === value?.toLowerCase());
    return hit ? [`${option} removes ${hit.takes}`] : [];
  });
}

export const containerConfined: ResourceValidationPolicy = {
  name: "container-confined",
  description:
    "No container switches off seccomp, AppArmor, SELinux labels or masked system paths (securityOpts seccomp=unconfined, apparmor=unconfined, label=disable, systempaths=unconfined), whatever else it sets.",
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    const options = known(() => props.securityOpts ?? []);
    if (options === UNKNOWN) return;
    for (const gap of unconfinedBy(options)) report(`${describeContainer(props, args.name)}: ${gap}; none of this stack's containers needs that.`);
  }),
};

export const securityPolicies = [
  containerNotPrivileged,
  containerNoDockerSocket,
  containerCapabilitiesAllowList,
  containerNoNewPrivileges,
  containerConfined,
];
