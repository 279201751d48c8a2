/** No privileged containers, no Docker socket, capabilities only from the allow-list, no host PID namespace. */
import { describe, expect, it } from "vitest";
import {
  capabilityName,
  containerCapabilitiesAllowList,
  containerNoDockerSocket,
  containerNoHostPidNamespace,
  containerNotPrivileged,
  exposesSocket,
} from "../../policy/security";
import { validateResource } from "./support/harness";
import { container } from "./support/fixtures";

const messages = async (outcome: Promise<{ violations: { message: string }[] }>) => (await outcome).violations.map((v) => v.message);

describe("container-not-privileged", () => {
  it("passes an unprivileged container", async () => {
    expect(await messages(validateResource(containerNotPrivileged, container({ props: { privileged: false } })))).toEqual([]);
  });

  it("fails a privileged one", async () => {
    expect(await messages(validateResource(containerNotPrivileged, container({ props: { privileged: true } })))).toEqual([
      expect.stringContaining("is privileged"),
    ]);
  });
});

describe("container-no-docker-socket", () => {
  it("passes a named volume and an unrelated bind mount", async () => {
    const mounts = [
      { type: "volume", source: "pgdata", target: "/var/lib/postgresql/data" },
      { type: "bind", source: "/srv/metamcp/config", target: "/config" },
    ];
    expect(await messages(validateResource(containerNoDockerSocket, container({ props: { mounts } })))).toEqual([]);
  });

  it("fails the socket as a bind mount", async () => {
    const mounts = [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }];
    expect(await messages(validateResource(containerNoDockerSocket, container({ props: { mounts } })))).toEqual([
      expect.stringContaining("mounts /var/run/docker.sock from the host"),
    ]);
  });

  it("fails the socket as a host-path volume, under /run", async () => {
    const volumes = [{ hostPath: "/run/docker.sock", containerPath: "/docker.sock" }];
    expect(await messages(validateResource(containerNoDockerSocket, container({ props: { volumes } })))).toEqual([
      expect.stringContaining("exposes /run/docker.sock"),
    ]);
  });

  it("fails a directory that holds the socket", async () => {
    const volumes = [{ hostPath: "/var/run/", containerPath: "/host-run" }];
    expect(await messages(validateResource(containerNoDockerSocket, container({ props: { volumes } })))).toHaveLength(1);
  });

  it("takes extra socket paths from config", async () => {
    const mounts = [{ type: "bind", source: "/run/containerd/containerd.sock", target: "/c.sock" }];
    const outcome = validateResource(containerNoDockerSocket, container({ props: { mounts } }), { socketPaths: ["/run/containerd/containerd.sock"] });
    expect(await messages(outcome)).toHaveLength(1);
  });

  it("knows which host paths expose a socket", () => {
    const socket = "/var/run/docker.sock";
    expect(["/var/run/docker.sock", "/var/run", "/var", "/", "/var/run//docker.sock", "/var/lib", "/var/run/docker"].map((p) => exposesSocket(p, socket))).toEqual([
      true, true, true, true, true, false, false,
    ]);
  });
});

describe("container-capabilities-allow-list", () => {
  const monitorCaps = { drops: ["ALL"], adds: ["KILL"] };

  it("passes the monitor adding KILL (its allow-list)", async () => {
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities: monitorCaps } })))).toEqual([]);
  });

  it("passes CAP_KILL spelt the long way", async () => {
    const capabilities = { adds: ["cap_kill"] };
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities } })))).toEqual([]);
  });

  it("fails the monitor adding SYS_PTRACE", async () => {
    const capabilities = { adds: ["KILL", "SYS_PTRACE"] };
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities } })))).toEqual([
      expect.stringContaining("adds SYS_PTRACE; role monitor may add only KILL"),
    ]);
  });

  it("fails MetaMCP adding KILL (only the monitor may)", async () => {
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ props: { capabilities: monitorCaps } })))).toEqual([
      expect.stringContaining("adds KILL; role app may add none"),
    ]);
  });

  it("fails ALL", async () => {
    const capabilities = { adds: ["ALL"] };
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities } })))).toHaveLength(1);
  });

  it("takes the allow-list from config", async () => {
    const capabilities = { adds: ["NET_BIND_SERVICE"] };
    const outcome = validateResource(containerCapabilitiesAllowList, container({ props: { capabilities } }), { allowedByRole: { app: ["NET_BIND_SERVICE"] } });
    expect(await messages(outcome)).toEqual([]);
  });

  it("normalises capability names", () => {
    expect(["kill", "CAP_KILL", " Cap_Kill "].map(capabilityName)).toEqual(["KILL", "KILL", "KILL"]);
  });
});

describe("container-no-host-pid-namespace", () => {
  it("passes the monitor joining MetaMCP's namespace", async () => {
    const outcome = validateResource(containerNoHostPidNamespace, container({ role: "monitor", props: { pidMode: "container:0123abcd" } }));
    expect(await messages(outcome)).toEqual([]);
  });

  it("fails pidMode host", async () => {
    const outcome = validateResource(containerNoHostPidNamespace, container({ role: "monitor", props: { pidMode: "host" } }));
    expect(await messages(outcome)).toEqual([expect.stringContaining('uses pidMode "host"')]);
  });
});
