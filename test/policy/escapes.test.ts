/**
 * The stacks a security review (issue 12) found passing the pack, each built from what the real
 * program declares for its stack file (under mocks) with one change, and run through the whole
 * pack. Each test asserts exactly which blocking findings the change brings: against the pack as
 * it was, every one of them brought none.
 */
import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { policies } from "../../policy/policies";
import { DOCKER_PROVIDER, LABEL_ROLE, LOCAL_COMMAND, DOCKER_SERVICE, VOLUME } from "../../policy/resources";
import { declareStack } from "../support/mocks";
import { blocking, editProps, fromDeclared, newBlocking, resource, runPolicies, type Finding } from "./support/harness";

async function declared(stack: string, overrides: Record<string, unknown> = {}): Promise<PolicyResource[]> {
  return fromDeclared((await declareStack(stack, overrides)).resources, stack);
}

function named(resources: PolicyResource[], name: string): PolicyResource {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource ${name}`);
  return found;
}

const baselines = new Map<string, Finding[]>();
async function baseline(stack: string): Promise<Finding[]> {
  if (!baselines.has(stack)) baselines.set(stack, await runPolicies(policies, await declared(stack)));
  return baselines.get(stack)!;
}

/** The blocking findings a change to the declared stack brings, as "policy: message". */
async function brought(change: (resources: PolicyResource[]) => PolicyResource[] | void, stack = "prod"): Promise<string[]> {
  const resources = await declared(stack);
  const changed = change(resources) ?? resources;
  return newBlocking(await baseline(stack), await runPolicies(policies, changed));
}

const policiesOf = (findings: string[]) => findings.map((f) => f.slice(0, f.indexOf(":")));

/** Sets properties of one declared resource, in place. */
const set = (name: string, props: Record<string, unknown>) => (resources: PolicyResource[]) => {
  editProps(named(resources, name), (current) => ({ ...current, ...props }));
};

describe("the Docker socket through a bind volume", () => {
  it.each([
    ["/var/run", ["container-no-docker-socket"]],
    ["/run", ["container-no-docker-socket"]],
    ["/var", ["container-no-docker-socket"]],
    ["/", ["container-no-docker-socket", "container-no-host-devices"]],
  ])("a named volume binding %s, mounted in MetaMCP, fails", async (device, expected) => {
    const findings = await brought((resources) => {
      const app = named(resources, "metamcp-container");
      const bindVolume = resource({
        type: VOLUME,
        name: "host-run",
        stack: "prod",
        props: { name: "host-run", driver: "local", driverOpts: { type: "none", o: "bind", device } },
        provider: app.provider,
      });
      editProps(app, (props) => ({ ...props, mounts: [{ type: "volume", source: "host-run", target: "/host-run" }] }));
      return [...resources, bindVolume];
    });
    expect(policiesOf(findings)).toEqual(expected);
    expect(findings[0]).toMatch(new RegExp(`volume host-run binds ${device} from the host, which exposes (/var)?/run/docker.sock`));
  });
});

describe("container escapes on MetaMCP's container", () => {
  it("containerd's socket mounted fails container-no-docker-socket", async () => {
    const mounts = [{ type: "bind", source: "/run/containerd/containerd.sock", target: "/run/containerd/containerd.sock" }];
    expect(await brought(set("metamcp-container", { mounts }))).toEqual([
      "container-no-docker-socket: metamcp-container (metamcp-prod) mounts /run/containerd/containerd.sock from the host, which exposes /run/containerd/containerd.sock: anything in it controls the engine.",
    ]);
  });

  it("a host device such as /dev/sda fails container-no-host-devices", async () => {
    const devices = [{ hostPath: "/dev/sda", containerPath: "/dev/sda" }];
    expect(await brought(set("metamcp-container", { devices }))).toEqual(["container-no-host-devices: metamcp-container (metamcp-prod) is given host device /dev/sda."]);
  });

  it.each(["networkMode", "usernsMode", "ipcMode", "cgroupnsMode"])("%s host fails container-no-host-namespaces", async (property) => {
    expect(policiesOf(await brought(set("metamcp-container", { [property]: "host" })))).toEqual(["container-no-host-namespaces"]);
  });

  it.each(["seccomp=unconfined", "apparmor=unconfined"])("%s without no-new-privileges fails both container-no-new-privileges and container-confined", async (option) => {
    expect(policiesOf(await brought(set("metamcp-container", { securityOpts: [option] })))).toEqual(["container-no-new-privileges", "container-confined"]);
  });

  it("seccomp=unconfined beside no-new-privileges still fails container-confined (unconfined fails outright)", async () => {
    const securityOpts = ["no-new-privileges:true", "seccomp=unconfined"];
    expect(policiesOf(await brought(set("metamcp-container", { securityOpts })))).toEqual(["container-confined"]);
  });
});

describe("the monitor", () => {
  it("adding KILL but dropping nothing fails container-capabilities-allow-list", async () => {
    expect(await brought(set("monitor-container", { capabilities: { adds: ["KILL"] } }))).toEqual([
      expect.stringMatching(/^container-capabilities-allow-list: monitor-container \(metamcp-prod-monitor\) adds KILL but does not drop ALL/),
    ]);
  });

  it("publishing its metrics on 0.0.0.0 fails monitor-not-exposed", async () => {
    const ports = [{ internal: 9464, external: 9464, ip: "0.0.0.0" }];
    expect(await brought(set("monitor-container", { ports }))).toEqual([
      "monitor-not-exposed: monitor-container (metamcp-prod-monitor) publishes port 9464 on 0.0.0.0, beyond the host's loopback.",
    ]);
  });
});

describe("labels that lie", () => {
  it("MetaMCP labelled as the monitor fails container-roles-match-behaviour (and, acting as one now, monitor-not-exposed)", async () => {
    const findings = await brought((resources) => {
      editProps(named(resources, "metamcp-container"), (props) => ({
        ...props,
        labels: props.labels.map((l: { label: string; value: string }) => (l.label === LABEL_ROLE ? { ...l, value: "monitor" } : l)),
      }));
    });
    expect(findings).toEqual([
      expect.stringContaining("container-roles-match-behaviour: metamcp-container (metamcp-prod) is labelled monitor but runs in its own PID namespace"),
      expect.stringContaining("container-roles-match-behaviour: metamcp-container (metamcp-prod) runs MetaMCP's image (ghcr.io/metatool-ai/metamcp:2.4.22) but is labelled monitor"),
      expect.stringContaining("container-roles-match-behaviour: monitor-container (metamcp-prod-monitor) joins the PID namespace of metamcp-container (metamcp-prod), which is not MetaMCP (labelled monitor)"),
      expect.stringContaining("monitor-not-exposed: metamcp-container (metamcp-prod) joins network metamcp-prod-frontend, which routes out"),
    ]);
  });
});

describe("decoy PidsLimits", () => {
  it("one pointing at another container's literal id (beside MetaMCP by dependsOn) fails container-pids-limit twice", async () => {
    const findings = await brought((resources) => {
      const pids = named(resources, "metamcp-pids");
      pids.propertyDependencies = {};
      editProps(pids, (props) => ({ ...props, containerId: "postgres-container-id" }));
    });
    expect(findings).toEqual([
      expect.stringContaining("container-pids-limit: metamcp-container (metamcp-prod) has no PidsLimit whose containerId is its id"),
      expect.stringContaining('container-pids-limit: metamcp-pids caps "postgres-container-id", which is no container of this stack'),
    ]);
  });

  it("one on another Docker host fails container-pids-limit", async () => {
    expect(await brought(set("metamcp-pids", { dockerHost: "ssh://deploy@elsewhere.internal" }))).toEqual([
      expect.stringContaining(
        'container-pids-limit: metamcp-pids does not cap metamcp-container (metamcp-prod): its dockerHost "ssh://deploy@elsewhere.internal" is not the container\'s Docker host "ssh://deploy@metamcp.example.internal"',
      ),
    ]);
  });
});

describe("containers the pack cannot judge, in prod", () => {
  it("a docker.Service mounting the socket fails prod-no-unjudged-workloads", async () => {
    const service = resource({
      type: DOCKER_SERVICE,
      name: "escape",
      stack: "prod",
      props: { name: "escape", taskSpec: { containerSpec: { image: "alpine:3.20", mounts: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }] } } },
    });
    expect(await brought((resources) => [...resources, service])).toEqual([expect.stringMatching(/^prod-no-unjudged-workloads: escape is a Swarm service/)]);
  });

  it("a command.local.Command running docker run --privileged -v /var/run/docker.sock fails prod-no-unjudged-workloads", async () => {
    const command = resource({
      type: LOCAL_COMMAND,
      name: "escape",
      stack: "prod",
      props: { create: "docker -H ssh://deploy@metamcp.example.internal run -d --privileged -v /var/run/docker.sock:/var/run/docker.sock alpine sleep 1d" },
    });
    expect(await brought((resources) => [...resources, command])).toEqual([
      expect.stringMatching(/^prod-no-unjudged-workloads: escape runs docker run\/create in its create script/),
    ]);
  });
});

describe("prod's promises", () => {
  it("prod with slices off fails prod-slices-enabled", async () => {
    const off = await runPolicies(policies, await declared("prod", { "metamcp-guard:host": { slices: { enabled: false } } }));
    expect(newBlocking(await baseline("prod"), off)).toEqual([expect.stringMatching(/^prod-slices-enabled: prod runs its containers outside systemd slices/)]);
  });

  it("a Docker host on plain tcp:// across the network fails docker-host-encrypted, on the provider and each container", async () => {
    const host = "tcp://10.0.0.5:2375";
    const findings = await brought((resources) => {
      const provider = editProps(named(resources, "docker"), (props) => ({ ...props, host }));
      expect(provider.type).toBe(DOCKER_PROVIDER);
      for (const r of resources) {
        if (r.provider?.urn === provider.urn) r.provider = { ...r.provider, props: provider.props };
        // The PID caps follow the stack's dockerHost, as the program declares them.
        if (r.type.endsWith(":PidsLimit")) editProps(r, (props) => ({ ...props, dockerHost: host }));
      }
    });
    expect(findings).toEqual([
      expect.stringMatching(/^docker-host-encrypted: Docker provider docker reaches tcp:\/\/10\.0\.0\.5:2375 over plain TCP/),
      expect.stringMatching(/^docker-host-encrypted: container postgres-container goes through/),
      expect.stringMatching(/^docker-host-encrypted: container metamcp-container goes through/),
      expect.stringMatching(/^docker-host-encrypted: container monitor-container goes through/),
      expect.stringMatching(/^docker-host-encrypted: container guard-container goes through/),
    ]);
  });
});

describe("the session guard, as the stack declares it", () => {
  /** The stack with some of the guard container's properties replaced. */
  const guardWith = (changes: Record<string, unknown>) => set("guard-container", changes);

  it("passes every mandatory policy (the baselines hold no finding)", async () => {
    expect([...blocking(await baseline("dev")), ...blocking(await baseline("prod"))]).toEqual([]);
  });

  it.each([
    [{ user: undefined }, ["guard-least-privilege"]],
    [{ user: "0" }, ["guard-least-privilege"]],
    [{ readOnly: false }, ["guard-least-privilege"]],
    [{ capabilities: undefined }, ["guard-least-privilege"]],
    [{ capabilities: { drops: ["ALL"], adds: ["NET_BIND_SERVICE"] } }, ["container-capabilities-allow-list", "guard-least-privilege"]],
    [{ healthcheck: undefined }, ["guard-healthcheck"]],
    [{ memory: undefined }, ["container-memory-limit", "container-swap-disabled"]],
    [{ cpus: undefined }, ["container-cpu-limit"]],
    [{ restart: undefined }, ["container-restart-policy"]],
    [{ logDriver: undefined }, ["container-log-rotation"]],
    [{ securityOpts: [] }, ["container-no-new-privileges"]],
    [{ privileged: true }, ["container-not-privileged"]],
    [{ mounts: [{ type: "bind", source: "/var/run/docker.sock", target: "/s" }] }, ["container-no-docker-socket"]],
    [{ devices: [{ hostPath: "/dev/sda" }] }, ["container-no-host-devices"]],
    [{ networkMode: "host" }, ["container-no-host-namespaces"]],
  ])("with %j fails %j", async (changes, expected) => {
    expect(policiesOf(await brought(guardWith(changes), "dev"))).toEqual(expected);
  });

  it("without its PidsLimit fails container-pids-limit", async () => {
    const findings = await brought((resources) => resources.filter((r) => r.name !== "guard-pids"), "dev");
    expect(findings).toEqual([expect.stringContaining("container-pids-limit: guard-container (metamcp-dev-guard) has no PidsLimit")]);
  });

  it("with MetaMCP publishing its port too fails guard-fronts-metamcp", async () => {
    const published = set("metamcp-container", { ports: [{ internal: 12008, external: 12008, ip: "127.0.0.1" }] });
    expect(policiesOf(await brought(published, "dev"))).toEqual(["guard-fronts-metamcp"]);
  });

  it("in prod, outside the stack's slices, fails containers-in-slices", async () => {
    const findings = await brought(guardWith({ cgroupParent: undefined }));
    expect(findings).toEqual([expect.stringMatching(/^containers-in-slices: guard-container \(metamcp-prod-guard\) has no cgroupParent/)]);
  });
});

