/**
 * The monitor sees every process of MetaMCP and may signal them: nothing should reach it but
 * whoever scrapes its metrics on the Docker host, and it should reach nothing at all (it reads
 * /proc and sends signals; it never opens a connection). So its published ports bind loopback
 * only, and every network it joins has no route out: `internal`, or a bridge with IP masquerading
 * off (which still publishes ports to the host, where an internal network cannot).
 *
 * The monitor is judged by what it does (a container in another's PID namespace, or one that adds
 * KILL), not only by its label.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { pidNamespaceOf } from "./roles";
import { capabilityName } from "./security";
import { CONTAINER, type ContainerProps, dependenciesThrough, describeContainer, isLoopback, known, NETWORK, roleOf, UNKNOWN } from "./resources";

/** The option that turns off NAT for a bridge network: containers on it get no route out. */
export const NO_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade";

/** Whether a container acts as the monitor: labelled so, in another's PID namespace, or adding KILL. */
export function actsAsMonitor(container: PolicyResource): boolean {
  const props = container.props as ContainerProps;
  const adds = known(() => props.capabilities?.adds ?? []);
  return (
    roleOf(props) === "monitor" ||
    pidNamespaceOf(container).kind === "container" ||
    (adds !== UNKNOWN && adds.map(capabilityName).includes("KILL"))
  );
}

/** The published ports that reach beyond the host's loopback, as message fragments. */
export function exposedPorts(props: ContainerProps): string[] {
  const gaps: string[] = [];
  if (known(() => props.publishAllPorts) === true) gaps.push("publishes every exposed port on every interface (publishAllPorts)");
  const ports = known(() => props.ports ?? []);
  if (ports === UNKNOWN) return gaps;
  for (const port of ports) {
    const ip = known(() => port.ip);
    if (ip === UNKNOWN) continue;
    // Unset, Docker binds 0.0.0.0: every interface of the host.
    const bound = typeof ip === "string" && ip !== "" ? ip : "0.0.0.0";
    if (!isLoopback(bound)) gaps.push(`publishes port ${known(() => port.internal) === UNKNOWN ? "?" : port.internal} on ${bound}, beyond the host's loopback`);
  }
  return gaps;
}

/** Whether a network of the stack gives its containers no route out. */
export function hasNoRouteOut(network: PolicyResource): boolean | typeof UNKNOWN {
  const internal = known(() => network.props.internal);
  const options = known(() => network.props.options);
  if (internal === UNKNOWN || options === UNKNOWN) return UNKNOWN;
  return internal === true || (options?.[NO_MASQUERADE] ?? "").toString().toLowerCase() === "false";
}

/** The networks a container joins that may have a route out, as message fragments. */
export function networksWithRouteOut(container: PolicyResource, resources: PolicyResource[]): string[] {
  const props = container.props as ContainerProps;
  const mode = known(() => props.networkMode);
  if (mode === UNKNOWN) return [];
  if (mode === "none") return [];
  if (mode === "host") return ["shares the host's network (networkMode host)"];
  const joined = known(() => props.networksAdvanced ?? []);
  if (joined === UNKNOWN) return [];
  if (joined.length === 0 && (mode === undefined || mode === "" || mode === "bridge" || mode === "default")) {
    return ["runs on Docker's default bridge, which routes out"];
  }
  const declared = resources.filter((r) => r.type === NETWORK);
  const viaDependency = dependenciesThrough(container, "networksAdvanced").filter((d) => d.type === NETWORK);
  const gaps: string[] = [];
  for (const entry of joined) {
    const name = known(() => entry.name);
    // By name, or by id (what a read-back may hold); a name unknown in preview, or one neither
    // matches, still comes from the network its value is computed from when there is just one.
    const named = typeof name === "string" ? declared.find((n) => known(() => n.props.name) === name || known(() => n.props.id) === name) : undefined;
    const network = named ?? (viaDependency.length === 1 ? viaDependency[0] : undefined);
    if (!network) {
      if (typeof name === "string") gaps.push(`joins network ${name}, which this stack does not declare: nothing shows it has no route out`);
      continue;
    }
    const closed = hasNoRouteOut(network);
    if (closed === false) {
      gaps.push(`joins network ${typeof name === "string" ? name : network.name}, which routes out (not internal, IP masquerading on); the monitor never opens a connection`);
    }
  }
  return gaps;
}

export const monitorNotExposed: StackValidationPolicy = {
  name: "monitor-not-exposed",
  description:
    "The monitor (labelled so, in MetaMCP's PID namespace, or adding KILL) publishes ports on loopback only and joins only networks with no route out (internal, or masquerading off).",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const monitors = args.resources.filter((r) => r.type === CONTAINER && actsAsMonitor(r));
    if (monitors.length === 0) args.notApplicable("the stack runs no monitor");
    for (const monitor of monitors) {
      const props = monitor.props as ContainerProps;
      const name = describeContainer(props, monitor.name);
      for (const gap of [...exposedPorts(props), ...networksWithRouteOut(monitor, args.resources)]) report(`${name} ${gap}.`, monitor.urn);
    }
  },
};

export const exposurePolicies = [monitorNotExposed];
