/** The monitor publishes on loopback only and has no route out, judged by what it does. */
import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { actsAsMonitor, exposedPorts, monitorNotExposed, NO_MASQUERADE } from "../../policy/exposure";
import { isLoopback, NETWORK } from "../../policy/resources";
import { resource, UNKNOWN_STRING, validateStack } from "./support/harness";
import { container, type ContainerSpec } from "./support/fixtures";

function network(name: string, props: Record<string, unknown>): PolicyResource {
  return resource({ type: NETWORK, name, props: { name: `metamcp-dev-${name}`, ...props } });
}

const closed = network("monitor", { options: { [NO_MASQUERADE]: "false" } });
const internal = network("backend", { internal: true });
const frontend = network("frontend", {});

/** MetaMCP, and a monitor in its namespace publishing metrics on loopback from a network with no route out. */
function stack(monitor: Partial<ContainerSpec> = {}, networks: PolicyResource[] = [closed, internal, frontend]): PolicyResource[] {
  const app = container();
  const props = {
    pidMode: "container:app-container-id",
    ports: [{ internal: 9464, external: 9464, ip: "127.0.0.1" }],
    networksAdvanced: [{ name: "metamcp-dev-monitor" }],
    ...monitor.props,
  };
  return [...networks, app, container({ role: "monitor", propertyDependencies: { pidMode: [app] }, ...monitor, props })];
}

const messages = async (resources: PolicyResource[]) => (await validateStack(monitorNotExposed, resources)).violations.map((v) => v.message);

describe("monitor-not-exposed", () => {
  it("passes metrics on 127.0.0.1 from a bridge with masquerading off", async () => {
    expect(await messages(stack())).toEqual([]);
  });

  it("passes an internal network, and no network at all", async () => {
    expect([
      await messages(stack({ props: { networksAdvanced: [{ name: "metamcp-dev-backend" }] } })),
      await messages(stack({ props: { networkMode: "none", networksAdvanced: [], ports: [] } })),
    ]).toEqual([[], []]);
  });

  it("fails the monitor as the stack declared it: on the frontend network, which routes out", async () => {
    expect(await messages(stack({ props: { networksAdvanced: [{ name: "metamcp-dev-frontend" }] } }))).toEqual([
      "monitor-container (metamcp-dev-monitor) joins network metamcp-dev-frontend, which routes out (not internal, IP masquerading on); the monitor never opens a connection.",
    ]);
  });

  it.each([[{ internal: 9464, external: 9464, ip: "0.0.0.0" }, "on 0.0.0.0"], [{ internal: 9464, external: 9464 }, "on 0.0.0.0"], [{ internal: 9464, ip: "::" }, "on ::"]])(
    "fails a port published beyond loopback: %j",
    async (port, said) => {
      expect(await messages(stack({ props: { ports: [port] } }))).toEqual([expect.stringContaining(`publishes port 9464 ${said}, beyond the host's loopback`)]);
    },
  );

  it("fails publishAllPorts", async () => {
    expect(await messages(stack({ props: { publishAllPorts: true } }))).toEqual([expect.stringContaining("publishAllPorts")]);
  });

  it("fails the default bridge, the host's network and a network the stack does not declare", async () => {
    expect([
      await messages(stack({ props: { networksAdvanced: [] } })),
      await messages(stack({ props: { networkMode: "host", networksAdvanced: [] } })),
      await messages(stack({ props: { networksAdvanced: [{ name: "traefik" }] } })),
    ]).toEqual([
      [expect.stringContaining("runs on Docker's default bridge, which routes out")],
      [expect.stringContaining("shares the host's network")],
      [expect.stringContaining("joins network traefik, which this stack does not declare")],
    ]);
  });

  it("follows a network name unknown in preview to the network it comes from", async () => {
    const resources = stack({ props: { networksAdvanced: [{ name: UNKNOWN_STRING }] }, propertyDependencies: { networksAdvanced: [frontend] } });
    expect(await messages(resources)).toEqual([expect.stringContaining("joins network frontend, which routes out")]);
  });

  it("finds a network by the id a read-back holds, or by the one network its value comes from", async () => {
    const withId = network("metrics", { id: "4f2a9c", options: { [NO_MASQUERADE]: "false" } });
    expect([
      await messages(stack({ props: { networksAdvanced: [{ name: "4f2a9c" }] } }, [withId])),
      await messages(stack({ props: { networksAdvanced: [{ name: "9e8d7c" }] }, propertyDependencies: { networksAdvanced: [frontend] } })),
    ]).toEqual([[], [expect.stringContaining("joins network 9e8d7c, which routes out")]]);
  });

  it("judges the monitor by what it does: unlabelled, but in MetaMCP's PID namespace", async () => {
    const resources = stack({ role: "db", props: { networksAdvanced: [{ name: "metamcp-dev-frontend" }] } });
    expect(await messages(resources)).toHaveLength(1);
  });

  it("leaves MetaMCP's own published port alone", async () => {
    const app = container({ props: { ports: [{ internal: 12008, external: 12008, ip: "0.0.0.0" }], networksAdvanced: [{ name: "metamcp-dev-frontend" }] } });
    expect((await validateStack(monitorNotExposed, [frontend, app])).notApplicable).toBe("the stack runs no monitor");
  });
});

describe("reading exposure", () => {
  it("knows loopback addresses", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "0.0.0.0", "10.0.0.1", "::"].map(isLoopback)).toEqual([true, true, true, true, true, false, false, false]);
  });

  it("takes a container that adds KILL for a monitor", () => {
    expect([actsAsMonitor(container({ props: { capabilities: { drops: ["ALL"], adds: ["KILL"] } } })), actsAsMonitor(container())]).toEqual([true, false]);
  });

  it("skips a port whose address is unknown", () => {
    expect(exposedPorts(container({ props: { ports: [{ internal: 1, ip: UNKNOWN_STRING }] } }).props)).toEqual([]);
  });
});
