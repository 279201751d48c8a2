/**
 * The session guard: a reverse proxy in front of MetaMCP, the only container the outside reaches.
 * It parses every request before MetaMCP does, so it gets the least of everything: a non-root uid,
 * a read-only root filesystem, no capability at all. And it is only a guard if nothing goes around
 * it: once a stack runs one, MetaMCP publishes no port of its own.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { capabilityName } from "./security";
import { CONTAINER, type ContainerProps, describeContainer, forContainers, known, roleOf, UNKNOWN } from "./resources";

/** Why `user` is not a non-root uid, or undefined when it is one (`1001`, `1001:1001`). */
export function notNonRootUid(user: unknown): string | undefined {
  if (user === undefined || user === null || user === "") return "sets no user, so it runs as the image's (root unless the image says otherwise)";
  if (typeof user !== "string") return `has user ${JSON.stringify(user)}, which is not a uid`;
  const [uid] = user.split(":");
  // A user name's uid is whatever the image's /etc/passwd says, which the pack cannot read.
  if (!/^\d+$/.test(uid)) return `has user ${JSON.stringify(user)}: name a numeric uid (a name's uid comes from the image, which the pack cannot see)`;
  if (Number(uid) === 0) return `has user ${JSON.stringify(user)}, which is root`;
  return undefined;
}

/** What the guard lacks of least privilege, as message fragments. */
export function guardPrivilegeGaps(props: ContainerProps): string[] {
  const gaps: string[] = [];
  const user = known(() => props.user);
  if (user !== UNKNOWN) {
    const why = notNonRootUid(user);
    if (why) gaps.push(why);
  }
  const readOnly = known(() => props.readOnly);
  if (readOnly !== UNKNOWN && readOnly !== true) gaps.push("has a writable root filesystem; set readOnly: true (mount a tmpfs where it must write)");
  const drops = known(() => props.capabilities?.drops ?? []);
  if (drops !== UNKNOWN && !drops.map(capabilityName).includes("ALL")) gaps.push('keeps Docker\'s default capabilities; set capabilities.drops to ["ALL"]');
  const adds = known(() => props.capabilities?.adds ?? []);
  if (adds !== UNKNOWN && adds.length > 0) gaps.push(`adds ${adds.map(capabilityName).join(", ")}; the guard needs none (its port is above 1024)`);
  return gaps;
}

export const guardLeastPrivilege: ResourceValidationPolicy = {
  name: "guard-least-privilege",
  description: "The session guard (role guard) runs as a non-root numeric uid, with a read-only root filesystem and every capability dropped, none added.",
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    if (roleOf(props) !== "guard") args.notApplicable(`not for ${roleOf(props) ?? "unlabelled"} containers`);
    for (const gap of guardPrivilegeGaps(props)) report(`${describeContainer(props, args.name)} ${gap}.`);
  }),
};

export const guardFrontsMetamcp: StackValidationPolicy = {
  name: "guard-fronts-metamcp",
  description: "When the stack runs a session guard (role guard), MetaMCP (role app) publishes no port: every request goes through the guard.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const containers = args.resources.filter((r) => r.type === CONTAINER);
    if (!containers.some((c) => roleOf(c.props as ContainerProps) === "guard")) args.notApplicable("the stack runs no session guard");
    for (const app of containers.filter((c) => roleOf(c.props as ContainerProps) === "app")) {
      const props = app.props as ContainerProps;
      const ports = known(() => props.ports ?? []);
      const all = known(() => props.publishAllPorts) === true;
      if (all || (ports !== UNKNOWN && ports.length > 0)) {
        const what = all ? "every exposed port (publishAllPorts)" : `port${ports === UNKNOWN || ports.length === 1 ? "" : "s"} of its own`;
        report(`${describeContainer(props, app.name)} publishes ${what} beside the session guard: clients could go around the guard; publish only the guard's.`, app.urn);
      }
    }
  },
};

export const guardPolicies = [guardLeastPrivilege, guardFrontsMetamcp];
