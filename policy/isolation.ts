/**
 * What a container shares with the host. Each namespace it takes from the host is a wall gone:
 * the host's PID namespace lets a container with KILL (the monitor) kill any process on the host,
 * the host's network reaches every port bound to 127.0.0.1 (the Docker API over tcp, other
 * stacks' metrics), the host's IPC namespace its shared memory, the host's user namespace undoes
 * userns-remap, the host's cgroup namespace shows (and with a writable cgroupfs, edits) every
 * limit. A host device is the hardware itself: a disk opened raw bypasses every file permission.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { type ContainerProps, CONTAINER, describeContainer, forContainers, known, UNKNOWN, VOLUME } from "./resources";
import { covers, hostPathOfVolumeOptions, hostPathsOf } from "./security";

/** The namespace settings of a container and what the host's own namespace would hand over. */
const NAMESPACES: { property: keyof ContainerProps; namespace: string; gives: string }[] = [
  { property: "pidMode", namespace: "PID", gives: "it sees, and with KILL can kill, every process on the host" },
  { property: "networkMode", namespace: "network", gives: "it reaches every port bound on the host, 127.0.0.1 included" },
  { property: "ipcMode", namespace: "IPC", gives: "it reads and writes the host's shared memory and semaphores" },
  { property: "usernsMode", namespace: "user", gives: "root in it is root on the host even where the daemon remaps users" },
  { property: "cgroupnsMode", namespace: "cgroup", gives: "it sees every cgroup on the host, limits included" },
];

/** The host namespaces a container joins, as message fragments. */
export function hostNamespacesOf(props: ContainerProps): string[] {
  return NAMESPACES.flatMap(({ property, namespace, gives }) =>
    known(() => props[property]) === "host" ? [`uses ${property} "host" (the host's ${namespace} namespace): ${gives}`] : [],
  );
}

export const containerNoHostNamespaces: ResourceValidationPolicy = {
  name: "container-no-host-namespaces",
  description:
    "No container joins a host namespace: pidMode, networkMode, ipcMode, usernsMode and cgroupnsMode are never \"host\" (the monitor joins MetaMCP's PID namespace, container:<id>).",
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    for (const gap of hostNamespacesOf(props)) report(`${describeContainer(props, args.name)} ${gap}.`);
  }),
};

/** Whether mounting `hostPath` hands over host devices: /dev, anything under it, or a directory above it. */
export function exposesDevices(hostPath: string): boolean {
  return covers(hostPath, "/dev") || covers("/dev", hostPath);
}

/** The host devices a container is given, as message fragments. */
export function hostDevicesOf(props: ContainerProps): string[] {
  const gaps: string[] = [];
  // Values unknown during preview are skipped, as everywhere in the pack; the update judges them known.
  const devices = known(() => props.devices ?? []);
  if (devices !== UNKNOWN && devices.length > 0) {
    const paths = devices.map((d) => {
      const path = known(() => d.hostPath);
      return path === UNKNOWN ? "(unknown)" : String(path);
    });
    gaps.push(`is given host device${paths.length === 1 ? "" : "s"} ${paths.join(", ")}`);
  }
  const requests = known(() => props.deviceRequests ?? []);
  if (requests !== UNKNOWN && requests.length > 0) gaps.push("requests host devices (deviceRequests)");
  const gpus = known(() => props.gpus);
  if (typeof gpus === "string" && gpus !== "") gaps.push(`is given the host's GPUs (gpus ${JSON.stringify(gpus)})`);
  const rules = known(() => props.deviceCgroupRules ?? []);
  if (rules !== UNKNOWN && rules.length > 0) gaps.push(`may open host devices by cgroup rule (${rules.join(", ")})`);
  for (const path of hostPathsOf(props).filter(exposesDevices)) gaps.push(`mounts ${path} from the host, which holds its devices`);
  return gaps;
}

export const containerNoHostDevices: ResourceValidationPolicy = {
  name: "container-no-host-devices",
  description:
    "No container is given a host device (devices, deviceRequests, gpus, deviceCgroupRules, a mount of /dev), and no volume mounts one (a local volume with device=/dev/…).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type === VOLUME) {
      const mounted = hostPathOfVolumeOptions(known(() => args.props.driver), known(() => args.props.driverOpts));
      if (mounted && exposesDevices(mounted.path)) {
        report(`volume ${args.name} mounts ${mounted.path} from the host: a container that mounts it gets the device's data with no file permission in the way.`);
      }
      return;
    }
    if (args.type !== CONTAINER) args.notApplicable("applies to docker containers and volumes only");
    const props = args.props as ContainerProps;
    for (const gap of hostDevicesOf(props)) report(`${describeContainer(props, args.name)} ${gap}.`);
  },
};

export const isolationPolicies = [containerNoHostNamespaces, containerNoHostDevices];
