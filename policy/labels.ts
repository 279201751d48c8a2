/**
 * Every container says which stack and which part of it it is. The role label is what the other
 * policies key on (MetaMCP's init and health check are mandatory because its label says `app`),
 * and what `npm run verify` finds containers by on the host; an unlabelled MetaMCP would slip
 * past both.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { describeContainer, forContainers, known, LABEL_ROLE, LABEL_STACK, labelsOf, ROLES, stackOfUrn, UNKNOWN } from "./resources";

export const containerLabels: ResourceValidationPolicy = {
  name: "container-labels",
  description: `Every container is labelled with its stack (${LABEL_STACK}) and its role (${LABEL_ROLE}: ${ROLES.join(", ")}).`,
  enforcementLevel: "mandatory",
  validateResource: forContainers((props, args, report) => {
    if (known(() => props.labels) === UNKNOWN) return;
    const labels = labelsOf(props);
    const stack = stackOfUrn(args.urn);
    const name = describeContainer(props, args.name);
    if (labels.get(LABEL_STACK) !== stack) {
      report(`${name} has ${LABEL_STACK}=${JSON.stringify(labels.get(LABEL_STACK) ?? null)}; want ${JSON.stringify(stack)}.`);
    }
    const role = labels.get(LABEL_ROLE);
    if (!(ROLES as readonly string[]).includes(role ?? "")) {
      report(`${name} has ${LABEL_ROLE}=${JSON.stringify(role ?? null)}; want one of ${ROLES.join(", ")}.`);
    }
  }),
};

export const labelPolicies = [containerLabels];
