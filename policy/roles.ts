/**
 * A container's role label is a claim; what it does is the evidence. Several policies key on the
 * label (MetaMCP's init and health check are mandatory because it says `app`, only `monitor` may
 * add KILL, only `guard` must run as a non-root user), so a container could dodge them by wearing
 * another's label. This policy holds each label to the behaviour that only that part of the stack
 * has, so the label-keyed policies can trust it:
 *
 * - only the monitor joins another container's PID namespace, and it joins MetaMCP's, by the id
 *   of MetaMCP's container (pidMode computed from that container's output, not a literal id);
 * - a container labelled monitor does join it (a container in its own PID namespace is not the
 *   monitor, whatever it says);
 * - a container running MetaMCP's image is MetaMCP: labelled app.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { ROLE_DEFAULTS, ROLE_SCHEMA, settingsOf } from "./config";
import { imageReferenceOf, repositoryOf } from "./images";
import { CONTAINER, type ContainerProps, dependenciesThrough, describeContainer, known, roleOf, UNKNOWN } from "./resources";

/** Whose PID namespace a container runs in, judged by its pidMode and what the value is computed from. */
export type PidNamespace =
  | { kind: "own" }
  | { kind: "host" }
  /** `from`: the containers whose output the pidMode comes from; none means a literal id. */
  | { kind: "container"; from: PolicyResource[]; pidMode?: string }
  | { kind: "unknown" };

export function pidNamespaceOf(container: PolicyResource): PidNamespace {
  const pidMode = known(() => (container.props as ContainerProps).pidMode);
  const from = dependenciesThrough(container, "pidMode").filter((d) => d.type === CONTAINER);
  // In a first preview MetaMCP's id is unknown, so is the pidMode made from it; where it comes
  // from is known all the same.
  if (pidMode === UNKNOWN) return from.length ? { kind: "container", from } : { kind: "unknown" };
  if (pidMode === "host") return { kind: "host" };
  if (typeof pidMode === "string" && pidMode.startsWith("container:")) return { kind: "container", from, pidMode };
  return { kind: "own" };
}

/** Whether `reference` is one of `repositories` (compared without tag or digest). */
export function isImageOf(reference: string, repositories: string[]): boolean {
  return repositories.some((repository) => repositoryOf(repository) === repositoryOf(reference));
}

const labelText = (container: PolicyResource) => {
  const role = roleOf(container.props as ContainerProps);
  return role ? `labelled ${role}` : "unlabelled";
};

export const containerRolesMatchBehaviour: StackValidationPolicy = {
  name: "container-roles-match-behaviour",
  description:
    "Each container's role label matches what it does: only the monitor joins a PID namespace, MetaMCP's, through its container's id; a container labelled monitor does; a container running MetaMCP's image is labelled app.",
  enforcementLevel: "mandatory",
  configSchema: ROLE_SCHEMA,
  validateStack: (args, report) => {
    const { appImages } = settingsOf(args, ROLE_DEFAULTS);
    const containers = args.resources.filter((r) => r.type === CONTAINER);
    if (containers.length === 0) args.notApplicable("the stack declares no containers");
    const apps = containers.filter((c) => roleOf(c.props as ContainerProps) === "app");
    // MetaMCP's image as this stack names it, besides the configured repositories (a mirror counts).
    const appRepositories = [...appImages, ...apps.flatMap((app) => imageReferenceOf(app) ?? [])];

    for (const container of containers) {
      const props = container.props as ContainerProps;
      const role = roleOf(props);
      const name = describeContainer(props, container.name);
      const namespace = pidNamespaceOf(container);

      if (namespace.kind === "container") {
        if (role !== "monitor") {
          report(`${name} joins another container's PID namespace, which only the monitor does, but is ${labelText(container)}.`, container.urn);
        }
        if (namespace.from.length === 0) {
          report(
            `${name} joins the PID namespace of ${namespace.pidMode}, a literal id: the monitor's pidMode must be computed from MetaMCP's container id, or it follows no MetaMCP this stack declares.`,
            container.urn,
          );
        }
        for (const target of namespace.from.filter((t) => roleOf(t.props as ContainerProps) !== "app")) {
          report(`${name} joins the PID namespace of ${describeContainer(target.props as ContainerProps, target.name)}, which is not MetaMCP (${labelText(target)}).`, container.urn);
        }
      } else if (role === "monitor" && (namespace.kind === "own" || namespace.kind === "host")) {
        const where = namespace.kind === "host" ? "the host's PID namespace" : "its own PID namespace";
        report(
          `${name} is labelled monitor but runs in ${where}: the monitor joins MetaMCP's (pidMode container:<MetaMCP's container id>), so this container is not the monitor and must not carry its label or its KILL.`,
          container.urn,
        );
      }

      const reference = imageReferenceOf(container);
      if (role !== "app" && reference !== undefined && isImageOf(reference, appRepositories)) {
        report(
          `${name} runs MetaMCP's image (${reference}) but is ${labelText(container)}: MetaMCP's own rules (init, health check, no added capability) apply to role app.`,
          container.urn,
        );
      }
    }
  },
};

export const rolePolicies = [containerRolesMatchBehaviour];
