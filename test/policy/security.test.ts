/**
 * No privileged containers, no engine socket (however it is mounted), capabilities only from the
 * allow-list on top of none, no-new-privileges, and no switched-off confinement.
 */
import { describe, expect, it } from "vitest";
import {
  capabilityName,
  containerCapabilitiesAllowList,
  containerConfined,
  containerNoDockerSocket,
  containerNoNewPrivileges,
  containerNotPrivileged,
  exposesSocket,
  hasNoNewPrivileges,
  hostPathOfVolumeOptions,
  securityOption,
  unconfinedBy,
} from "../../policy/security";
import { VOLUME } from "../../policy/resources";
import { resource, UNKNOWN_ARRAY, validateResource } from "./support/harness";
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

  it("takes the socket paths from config", async () => {
    const mounts = [{ type: "bind", source: "/srv/engine/api.sock", target: "/api.sock" }];
    const outcome = validateResource(containerNoDockerSocket, container({ props: { mounts } }), { socketPaths: ["/srv/engine/api.sock"] });
    expect(await messages(outcome)).toEqual([expect.stringContaining("exposes /srv/engine/api.sock")]);
  });

  it.each(["/run/containerd/containerd.sock", "/var/run/docker/containerd/containerd.sock", "/run/containerd", "/run/podman/podman.sock"])(
    "fails %s by default (containerd and the other engines run containers as root too)",
    async (source) => {
      const mounts = [{ type: "bind", source, target: "/engine" }];
      expect(await messages(validateResource(containerNoDockerSocket, container({ props: { mounts } })))).toEqual([expect.stringContaining(`mounts ${source} from the host`)]);
    },
  );

  it.each(["/var/run", "/run", "/", "/var"])("fails a named volume that binds %s (a bind mount under another name)", async (device) => {
    const bindVolume = resource({ type: VOLUME, name: "host-run", props: { name: "host-run", driver: "local", driverOpts: { type: "none", o: "bind", device } } });
    expect(await messages(validateResource(containerNoDockerSocket, bindVolume))).toEqual([expect.stringContaining(`volume host-run binds ${device} from the host, which exposes`)]);
  });

  it("passes a named volume without bind options (Postgres's data)", async () => {
    const data = resource({ type: VOLUME, name: "postgres-data", props: { name: "pgdata" } });
    expect(await validateResource(containerNoDockerSocket, data)).toEqual({ violations: [] });
  });

  it("fails a volume a mount defines inline with bind options", async () => {
    const mounts = [{ type: "volume", source: "run", target: "/host-run", volumeOptions: { driverOptions: { type: "none", o: "rbind", device: "/run" } } }];
    expect(await messages(validateResource(containerNoDockerSocket, container({ props: { mounts } })))).toEqual([expect.stringContaining("mounts /run from the host")]);
  });

  it("fails mounting every volume of another container (the pack cannot see what they hold)", async () => {
    const volumes = [{ fromContainer: "some-container" }];
    expect(await messages(validateResource(containerNoDockerSocket, container({ props: { volumes } })))).toEqual([expect.stringContaining("every volume of container some-container")]);
  });

  it("reads the host path a volume's options mount, and how", () => {
    expect([
      hostPathOfVolumeOptions(undefined, { type: "none", o: "bind", device: "/var/run" }),
      hostPathOfVolumeOptions("local", { type: "none", o: "ro, rbind", device: "/srv" }),
      hostPathOfVolumeOptions("local", { type: "ext4", device: "/dev/sda1" }),
      hostPathOfVolumeOptions("local", { type: "nfs", o: "addr=10.0.0.1", device: ":/export" }),
      hostPathOfVolumeOptions("vieux/sshfs", { o: "bind", device: "/var/run" }),
      hostPathOfVolumeOptions(undefined, undefined),
    ]).toEqual([{ kind: "bind", path: "/var/run" }, { kind: "bind", path: "/srv" }, { kind: "device", path: "/dev/sda1" }, undefined, undefined, undefined]);
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
    const capabilities = { drops: ["all"], adds: ["cap_kill"] };
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities } })))).toEqual([]);
  });

  it("fails the monitor adding SYS_PTRACE", async () => {
    const capabilities = { drops: ["ALL"], adds: ["KILL", "SYS_PTRACE"] };
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
    const capabilities = { drops: ["ALL"], adds: ["ALL"] };
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities } })))).toHaveLength(1);
  });

  it("takes the allow-list from config", async () => {
    const capabilities = { drops: ["ALL"], adds: ["NET_BIND_SERVICE"] };
    const outcome = validateResource(containerCapabilitiesAllowList, container({ props: { capabilities } }), { allowedByRole: { app: ["NET_BIND_SERVICE"] } });
    expect(await messages(outcome)).toEqual([]);
  });

  it("fails the monitor adding KILL without dropping ALL (it would keep Docker's default set too)", async () => {
    const capabilities = { adds: ["KILL"] };
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities } })))).toEqual([
      expect.stringContaining("adds KILL but does not drop ALL"),
    ]);
  });

  it("fails adding a capability while dropping only some", async () => {
    const capabilities = { drops: ["NET_RAW"], adds: ["KILL"] };
    expect(await messages(validateResource(containerCapabilitiesAllowList, container({ role: "monitor", props: { capabilities } })))).toHaveLength(1);
  });

  it("passes a container that adds nothing, whatever it drops", async () => {
    expect(await validateResource(containerCapabilitiesAllowList, container({ role: "db" }))).toEqual({ violations: [] });
  });

  it("normalises capability names", () => {
    expect(["kill", "CAP_KILL", " Cap_Kill "].map(capabilityName)).toEqual(["KILL", "KILL", "KILL"]);
  });
});

describe("container-no-new-privileges", () => {
  it.each([["no-new-privileges:true"], ["no-new-privileges=true"], ["no-new-privileges"]])("passes %s", async (option) => {
    expect(await validateResource(containerNoNewPrivileges, container({ props: { securityOpts: [option] } }))).toEqual({ violations: [] });
  });

  it.each([[undefined], [[]], [["no-new-privileges:false"]], [["no-new-privileges:true", "no-new-privileges=false"]]])("fails securityOpts %j", async (securityOpts) => {
    expect(await messages(validateResource(containerNoNewPrivileges, container({ props: { securityOpts } })))).toEqual([
      expect.stringContaining('does not set no-new-privileges: add "no-new-privileges:true"'),
    ]);
  });

  it("skips options unknown during preview", async () => {
    expect(await validateResource(containerNoNewPrivileges, container({ props: { securityOpts: UNKNOWN_ARRAY } }))).toEqual({ violations: [] });
  });

  it("reads both spellings of an option, the last no-new-privileges winning", () => {
    expect({
      parsed: ["seccomp=unconfined", "apparmor:unconfined", "no-new-privileges"].map(securityOption),
      on: [["no-new-privileges=false", "no-new-privileges"], ["no-new-privileges", "no-new-privileges:false"]].map(hasNoNewPrivileges),
    }).toEqual({
      parsed: [
        { key: "seccomp", value: "unconfined" },
        { key: "apparmor", value: "unconfined" },
        { key: "no-new-privileges", value: undefined },
      ],
      on: [true, false],
    });
  });
});

describe("container-confined", () => {
  it("passes no-new-privileges alone, and a seccomp profile of one's own", async () => {
    const securityOpts = ["no-new-privileges:true", 'seccomp={"defaultAction":"SCMP_ACT_ERRNO"}'];
    expect(await validateResource(containerConfined, container({ props: { securityOpts } }))).toEqual({ violations: [] });
  });

  it.each([["seccomp=unconfined"], ["seccomp:unconfined"], ["apparmor=unconfined"], ["label=disable"], ["systempaths=unconfined"]])(
    "fails %s",
    async (option) => {
      expect(await messages(validateResource(containerConfined, container({ props: { securityOpts: [option] } })))).toEqual([expect.stringContaining(`${option} removes`)]);
    },
  );

  it("fails seccomp=unconfined even beside no-new-privileges (it does not narrow the syscalls)", async () => {
    const securityOpts = ["no-new-privileges:true", "seccomp=unconfined"];
    expect(await messages(validateResource(containerConfined, container({ props: { securityOpts } })))).toEqual([expect.stringContaining("seccomp filter")]);
  });

  it("names what each option takes away", () => {
    expect(unconfinedBy(["seccomp=unconfined", "apparmor=Unconfined", "no-new-privileges"])).toEqual([
      expect.stringContaining("the seccomp filter"),
      expect.stringContaining("AppArmor's docker-default profile"),
    ]);
  });
});
