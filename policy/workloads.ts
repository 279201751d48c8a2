/**
 * The container policies judge docker.Container resources. Anything else that runs a container
 * escapes all of them: a Swarm service (docker.Service), an engine plugin (docker.Plugin, which
 * runs with the privileges it asks for), or a command that starts one (`docker run`, `docker
 * compose up`, `ctr run`, or a curl to the engine's API). None has a PidsLimit, none is checked for
 * the socket, privileges or limits. Production runs none of them unless you name one you
 * reviewed yourself in `allowed`.
 *
 * A command is judged by its scripts; those that only inspect, start or exec into containers the
 * stack declares (the monitor keeper's `docker inspect`, `docker start`) create nothing and pass.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { productionStackOrNotApplicable, settingsOf, WORKLOAD_DEFAULTS, WORKLOAD_SCHEMA } from "./config";
import { DOCKER_PLUGIN, DOCKER_SERVICE, known, LOCAL_COMMAND, REMOTE_COMMAND, UNKNOWN } from "./resources";

/** Docker CLI options before the subcommand: `docker -H ssh://h --context x run …`. */
const DOCKER_GLOBALS = String.raw`(?:\s+--?[A-Za-z-]+(?:[=\s](?!-)[^\s;&|]+)?)*`;

/** Commands that make a container (or change one's limits), by the engines' own CLIs and API. */
const STARTS_CONTAINERS: { pattern: RegExp; what: string }[] = [
  { pattern: new RegExp(String.raw`\bdocker${DOCKER_GLOBALS}\s+(?:container\s+)?(?:run|create)\b`), what: "docker run/create" },
  { pattern: new RegExp(String.raw`\bdocker${DOCKER_GLOBALS}\s+(?:container\s+)?update\b`), what: "docker update (it changes a container's limits)" },
  // A plain exec runs inside a container the pack judged, under its caps; a privileged one does not.
  { pattern: new RegExp(String.raw`\bdocker${DOCKER_GLOBALS}\s+(?:container\s+)?exec\b[^;&|\n]*\s--privileged\b`), what: "docker exec --privileged" },
  { pattern: new RegExp(String.raw`\bdocker${DOCKER_GLOBALS}\s+(?:service|stack|compose|plugin)\b`), what: "docker service/stack/compose/plugin" },
  { pattern: /\bdocker-compose\b/, what: "docker-compose" },
  { pattern: /\b(?:podman|nerdctl)\s+(?:\S+\s+)*?(?:run|create)\b/, what: "podman/nerdctl run/create" },
  { pattern: /\bctr\s+(?:\S+\s+)*?(?:run|create)\b/, what: "ctr" },
  { pattern: /\b(?:crictl|runc|systemd-nspawn)\b/, what: "crictl/runc/systemd-nspawn" },
  // The engine's API without its CLI: curl --unix-socket /var/run/docker.sock http://x/containers/create.
  { pattern: /docker\.sock|containerd\.sock|\/containers\/create\b/, what: "the engine's API socket" },
];

/** What in a script starts or changes containers, or undefined when nothing does. */
export function containerStarterIn(script: string): string | undefined {
  // Quotes and escapes only wrap words here (the stack's own scripts nest sh -c '…'); drop them.
  const plain = script.replace(/['"\\]/g, " ");
  return STARTS_CONTAINERS.find(({ pattern }) => pattern.test(plain))?.what;
}

const COMMAND_SCRIPTS = ["create", "update", "delete"] as const;

/** Why a resource runs a container the pack cannot judge, or undefined when it does not (or cannot be told yet). */
export function unjudgedWorkload(type: string, props: Record<string, unknown>): string | undefined {
  if (type === DOCKER_SERVICE) return "is a Swarm service: its tasks are containers no container policy sees";
  if (type === DOCKER_PLUGIN) return "is an engine plugin: it runs with whatever privileges it asks for";
  if (type !== LOCAL_COMMAND && type !== REMOTE_COMMAND) return undefined;
  for (const script of COMMAND_SCRIPTS) {
    const text = known(() => props[script]);
    if (text === UNKNOWN || typeof text !== "string") continue;
    const starter = containerStarterIn(text);
    if (starter) return `runs ${starter} in its ${script} script: that container gets no PID cap, and none of its settings are checked`;
  }
  return undefined;
}

const WORKLOAD_TYPES = [DOCKER_SERVICE, DOCKER_PLUGIN, LOCAL_COMMAND, REMOTE_COMMAND];

/**
 * A stack policy, though it judges each resource alone: whether the stack is production is read
 * off its containers' labels, which a resource policy on a Command cannot see.
 */
export const prodNoUnjudgedWorkloads: StackValidationPolicy = {
  name: "prod-no-unjudged-workloads",
  description:
    "In production, nothing runs containers the pack cannot judge: no docker.Service, no docker.Plugin, no local or remote Command that starts or changes one, unless named in allowed.",
  enforcementLevel: "mandatory",
  configSchema: WORKLOAD_SCHEMA,
  validateStack: (args, report) => {
    const settings = settingsOf(args, WORKLOAD_DEFAULTS);
    const candidates = args.resources.filter((r) => WORKLOAD_TYPES.includes(r.type));
    if (candidates.length === 0) args.notApplicable("the stack declares no services, plugins or commands");
    productionStackOrNotApplicable(args, settings);
    for (const target of candidates) {
      if (settings.allowed.includes(target.name) || settings.allowed.includes(target.urn)) continue;
      const why = unjudgedWorkload(target.type, target.props);
      if (why) {
        report(
          `${target.name} ${why}. Declare it as a docker.Container with a PidsLimit, or, once you have reviewed it, name it in prod-no-unjudged-workloads' allowed list.`,
          target.urn,
        );
      }
    }
  },
};

export const workloadPolicies = [prodNoUnjudgedWorkloads];
