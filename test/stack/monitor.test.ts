/** The process-monitor sidecar, as each real stack file declares it under mocks. */
import { beforeAll, describe, expect, it } from "vitest";
import { contextHash, MONITOR_CONTEXT } from "../../infra/images/buildContext";
import { declareStack, named, ofType, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { CONTAINER, STACK_NAMES } from "./expectations";

/** Every string anywhere in a resource's inputs. */
function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(strings);
  return [];
}

describe.each(STACK_NAMES)("monitor sidecar (%s)", (stack) => {
  let declared: DeclaredStack;
  let container: RecordedResource["inputs"];

  beforeAll(async () => {
    declared = await declareStack(stack);
    container = named(declared.resources, "monitor-container").inputs;
  });

  it("joins MetaMCP's PID namespace by container id", () => {
    expect(container.pidMode).toBe("container:metamcp-container-id");
  });

  it("drops every capability but KILL", () => {
    expect(container.capabilities).toEqual({ drops: ["ALL"], adds: ["KILL"] });
  });

  it("has a read-only root filesystem", () => {
    expect(container.readOnly).toBe(true);
  });

  it("cannot gain privileges", () => {
    expect(container.securityOpts).toEqual(["no-new-privileges:true"]);
  });

  it("is not privileged", () => {
    expect(container.privileged).toBeUndefined();
  });

  it("mounts nothing, and so no Docker socket", () => {
    expect({ mounts: container.mounts, volumes: container.volumes }).toEqual({ mounts: undefined, volumes: undefined });
  });

  it("mentions the Docker socket nowhere in any input", () => {
    const everywhere = ofType(declared.resources, CONTAINER).flatMap((r) => strings(r.inputs));
    expect(everywhere.filter((s) => s.includes("docker.sock"))).toEqual([]);
  });

  it("has its own small memory cap without swap", () => {
    expect({ memory: container.memory, memorySwap: container.memorySwap }).toEqual({ memory: 128, memorySwap: 128 });
  });

  it("has its own CPU cap", () => {
    expect(container.cpus).toBe("0.25");
  });

  it("has its own PID cap", () => {
    expect(named(declared.resources, "monitor-pids").inputs).toMatchObject({ containerId: "monitor-container-id", limit: 16 });
  });

  it("declares the image's own health check, so policy and verify can see it", () => {
    expect(container.healthcheck.tests).toEqual(["CMD", "node", "/app/dist/healthcheck.js"]);
  });

  it("restarts always, so it follows MetaMCP into a new PID namespace", () => {
    expect(container.restart).toBe("always");
  });

  it("rotates its logs (the audit log goes there)", () => {
    expect(container.logDriver).toBe("json-file");
  });

  it("joins only a network of its own", () => {
    expect(container.networksAdvanced.map((n: { name: string }) => n.name)).toEqual([`metamcp-${stack}-monitor`]);
  });

  it("has no route out from that network (no IP masquerading)", () => {
    expect(named(declared.resources, "monitor-network").inputs.options).toEqual({ "com.docker.network.bridge.enable_ip_masquerade": "false" });
  });

  it("publishes /metrics on the host's loopback only, on the port after MetaMCP's", () => {
    expect(container.ports).toEqual([{ internal: 9464, external: 12009, ip: "127.0.0.1" }]);
  });

  it("starts its emergency sweep halfway between MetaMCP's planned load and its PID cap", () => {
    const want = { dev: "208", prod: "519" }[stack];
    expect(container.envs).toContain(`MONITOR_EMERGENCY_TASKS=${want}`);
  });

  it("derives its emergency memory threshold from MetaMCP's memory cap (90%), and leaves cap and budget off", () => {
    const want = { dev: Math.floor(2 * 1024 ** 3 * 0.9), prod: Math.floor(4 * 1024 ** 3 * 0.9) }[stack];
    expect(container.envs).toEqual(expect.arrayContaining([`MONITOR_EMERGENCY_RSS=${want}`, "MONITOR_MAX_GROUPS=off", "MONITOR_RSS_BUDGET=0"]));
  });

  it("is built from monitor/ with a tag that changes with the code", () => {
    expect(named(declared.resources, "monitor-image").inputs).toMatchObject({
      imageName: `metamcp-${stack}-monitor:${contextHash(MONITOR_CONTEXT)}`,
      skipPush: true,
    });
  });

  it("frees its fixed name before a replacement takes it", () => {
    expect(named(declared.resources, "monitor-container").options.deleteBeforeReplace).toBe(true);
  });
});

describe("the monitor is optional", () => {
  it("declares no monitor resources when disabled", async () => {
    const declared = await declareStack("dev", { "metamcp-guard:monitor": { enabled: false } });
    expect(declared.resources.filter((r) => r.name.startsWith("monitor"))).toEqual([]);
  });

  it("runs a prebuilt image instead of building one when given", async () => {
    const declared = await declareStack("dev", { "metamcp-guard:monitor": { image: "registry.example.com/metamcp-monitor:1.0.0" } });
    expect({
      built: declared.resources.filter((r) => r.type === "docker:index/image:Image" && r.name === "monitor-image").length,
      pulled: named(declared.resources, "monitor-image").inputs.name,
    }).toEqual({ built: 0, pulled: "registry.example.com/metamcp-monitor:1.0.0" });
  });
});
