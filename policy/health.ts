/**
 * Process hygiene: an init as PID 1 and a health check. MetaMCP needs both (mandatory): its
 * entrypoint is a shell that never reaps the MCP servers it orphans, so without tini zombies pile
 * up against the PID cap; and without a health check a wedged MetaMCP looks "running" for ever.
 * The session guard needs the health check too (mandatory): every request passes through it, so a
 * wedged guard is MetaMCP down. For the other containers the same advice holds, but they do not
 * leak, so it is advisory.
 */
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { type ContainerProps, describeContainer, forContainers, known, roleOf, UNKNOWN } from "./resources";

export type HygieneGap = { what: "init" | "healthcheck"; text: string };

/** What is missing from a container's init and health check, as message fragments. */
export function processHygieneGaps(props: ContainerProps): HygieneGap[] | typeof UNKNOWN {
  const init = known(() => props.init);
  const tests = known(() => props.healthcheck?.tests);
  const pidMode = known(() => props.pidMode);
  if (init === UNKNOWN || tests === UNKNOWN) return UNKNOWN;
  const gaps: HygieneGap[] = [];
  // A container that joins another's PID namespace (the monitor, in MetaMCP's) is not PID 1
  // there: the other container's init reaps its orphans, and its own init would reap nothing.
  const sharesPidNamespace = pidMode === UNKNOWN || (typeof pidMode === "string" && pidMode.startsWith("container:"));
  if (init !== true && !sharesPidNamespace) gaps.push({ what: "init", text: "init: true (tini as PID 1 reaps orphaned processes)" });
  // ["NONE"] is Docker's way of switching off a health check the image defines. A HEALTHCHECK
  // in the image itself is invisible to policies, so the stack must declare one to be judged.
  if (!Array.isArray(tests) || tests.length === 0 || tests[0] === "NONE") {
    gaps.push({ what: "healthcheck", text: "a health check in its settings (healthcheck.tests)" });
  }
  return gaps;
}

/** Judges the gaps `judged` picks for each container, in the containers `which` picks. */
function checkHygiene(which: (props: ContainerProps) => boolean, judged: (props: ContainerProps, gap: HygieneGap) => boolean) {
  return forContainers((props: ContainerProps, args: ResourceValidationArgs, report: ReportViolation) => {
    if (!which(props)) args.notApplicable(`not for ${roleOf(props) ?? "unlabelled"} containers`);
    const gaps = processHygieneGaps(props);
    if (gaps === UNKNOWN) return;
    for (const gap of gaps.filter((g) => judged(props, g))) report(`${describeContainer(props, args.name)} is missing ${gap.text}.`);
  });
}

const every = () => true;

export const metamcpInitAndHealthcheck: ResourceValidationPolicy = {
  name: "metamcp-init-and-healthcheck",
  description: "The MetaMCP container (role app) runs an init as PID 1 (init: true) and has a health check.",
  enforcementLevel: "mandatory",
  validateResource: checkHygiene((props) => roleOf(props) === "app", every),
};

export const guardHealthcheck: ResourceValidationPolicy = {
  name: "guard-healthcheck",
  description: "The session guard (role guard) has a health check: every request passes through it.",
  enforcementLevel: "mandatory",
  validateResource: checkHygiene((props) => roleOf(props) === "guard", (_, gap) => gap.what === "healthcheck"),
};

export const containerInitAndHealthcheck: ResourceValidationPolicy = {
  name: "container-init-and-healthcheck",
  description: "Containers other than MetaMCP run an init as PID 1 and have a health check (advice; the guard's health check is mandatory).",
  enforcementLevel: "advisory",
  validateResource: checkHygiene(
    (props) => roleOf(props) !== "app",
    // The guard's health check is guard-healthcheck's, at its level.
    (props, gap) => !(roleOf(props) === "guard" && gap.what === "healthcheck"),
  ),
};

export const healthPolicies = [metamcpInitAndHealthcheck, guardHealthcheck, containerInitAndHealthcheck];
