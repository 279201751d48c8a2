/** No host namespace and no host device, for any container (and no volume that mounts a device). */
import { describe, expect, it } from "vitest";
import { containerNoHostDevices, containerNoHostNamespaces, exposesDevices, hostNamespacesOf } from "../../policy/isolation";
import { VOLUME } from "../../policy/resources";
import { resource, UNKNOWN_STRING, validateResource } from "./support/harness";
import { container, remoteImage } from "./support/fixtures";

const messages = async (outcome: Promise<{ violations: { message: string }[] }>) => (await outcome).violations.map((v) => v.message);

describe("container-no-host-namespaces", () => {
  it("passes the monitor joining MetaMCP's PID namespace", async () => {
    const outcome = validateResource(containerNoHostNamespaces, container({ role: "monitor", props: { pidMode: "container:0123abcd" } }));
    expect(await messages(outcome)).toEqual([]);
  });

  it("passes private and shareable settings", async () => {
    const props = { networkMode: "none", ipcMode: "private", usernsMode: "", cgroupnsMode: "private" };
    expect(await validateResource(containerNoHostNamespaces, container({ props }))).toEqual({ violations: [] });
  });

  it.each([
    ["pidMode", "PID"],
    ["networkMode", "network"],
    ["ipcMode", "IPC"],
    ["usernsMode", "user"],
    ["cgroupnsMode", "cgroup"],
  ])("fails %s host (the host's %s namespace)", async (property, namespace) => {
    const outcome = validateResource(containerNoHostNamespaces, container({ props: { [property]: "host" } }));
    expect(await messages(outcome)).toEqual([expect.stringContaining(`uses ${property} "host" (the host's ${namespace} namespace)`)]);
  });

  it("names every host namespace a container takes", () => {
    expect(hostNamespacesOf(container({ props: { networkMode: "host", ipcMode: "host" } }).props)).toHaveLength(2);
  });

  it("skips a mode unknown during preview", async () => {
    expect(await validateResource(containerNoHostNamespaces, container({ props: { networkMode: UNKNOWN_STRING } }))).toEqual({ violations: [] });
  });
});

describe("container-no-host-devices", () => {
  it("passes a container with no devices", async () => {
    expect(await validateResource(containerNoHostDevices, container())).toEqual({ violations: [] });
  });

  it("fails a host device such as /dev/sda", async () => {
    const devices = [{ hostPath: "/dev/sda", containerPath: "/dev/sda", permissions: "rwm" }];
    expect(await messages(validateResource(containerNoHostDevices, container({ props: { devices } })))).toEqual([
      expect.stringContaining("is given host device /dev/sda"),
    ]);
  });

  it.each([
    ["deviceRequests", [{ driver: "nvidia", count: -1 }], "deviceRequests"],
    ["gpus", "all", "GPUs"],
    ["deviceCgroupRules", ["b 8:* rmw"], "cgroup rule"],
  ])("fails %s", async (property, value, said) => {
    expect(await messages(validateResource(containerNoHostDevices, container({ props: { [property]: value } })))).toEqual([expect.stringContaining(said)]);
  });

  it.each(["/dev", "/dev/sda1", "/dev/"])("fails a bind mount of %s", async (source) => {
    const mounts = [{ type: "bind", source, target: "/host-dev" }];
    expect(await messages(validateResource(containerNoHostDevices, container({ props: { mounts } })))).toEqual([expect.stringContaining(`mounts ${source} from the host`)]);
  });

  it("fails a volume that mounts a host block device", async () => {
    const disk = resource({ type: VOLUME, name: "disk", props: { name: "disk", driverOpts: { type: "ext4", device: "/dev/sda1" } } });
    expect(await messages(validateResource(containerNoHostDevices, disk))).toEqual([expect.stringContaining("volume disk mounts /dev/sda1 from the host")]);
  });

  it("is not applicable to images", async () => {
    expect((await validateResource(containerNoHostDevices, remoteImage("postgres:16"))).notApplicable).toBe("applies to docker containers and volumes only");
  });

  it("knows which host paths hold devices", () => {
    expect(["/dev", "/dev/sda", "/", "/dev/shm/x", "/devices", "/srv"].map(exposesDevices)).toEqual([true, true, true, true, false, false]);
  });
});
