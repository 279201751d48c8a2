/** Role labels against behaviour: the monitor's PID namespace, MetaMCP's image. */
import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { containerRolesMatchBehaviour, isImageOf, pidNamespaceOf } from "../../policy/roles";
import { repositoryOf } from "../../policy/images";
import { resource, UNKNOWN_STRING, validateStack } from "./support/harness";
import { builtImage, container, type ContainerSpec, remoteImage } from "./support/fixtures";

const METAMCP = "ghcr.io/metatool-ai/metamcp:2.4.22";

/** MetaMCP from its RemoteImage, and a monitor in its PID namespace from the monitor's built image. */
function stack(change: { app?: Partial<ContainerSpec>; monitor?: Partial<ContainerSpec> } = {}): { resources: PolicyResource[]; app: PolicyResource; monitor: PolicyResource } {
  const appImage = remoteImage(METAMCP, "dev");
  const monitorImage = builtImage("monitor-image", "metamcp-dev-monitor:0123456789abcdef");
  const app = container({ propertyDependencies: { image: [appImage] }, ...change.app });
  const monitor = container({
    role: "monitor",
    props: { pidMode: `container:${app.name}-id`, init: undefined },
    propertyDependencies: { image: [monitorImage], pidMode: [app] },
    ...change.monitor,
  });
  return { resources: [appImage, monitorImage, app, monitor], app, monitor };
}

const messages = async (resources: PolicyResource[], config = {}) => (await validateStack(containerRolesMatchBehaviour, resources, config)).violations.map((v) => v.message);

describe("container-roles-match-behaviour", () => {
  it("passes MetaMCP and the monitor in its PID namespace, labelled as they act", async () => {
    expect(await messages(stack().resources)).toEqual([]);
  });

  it("passes in a first preview: the pidMode is unknown, where it comes from is not", async () => {
    const { resources } = stack({ monitor: { props: { pidMode: UNKNOWN_STRING, init: undefined } } });
    expect(await messages(resources)).toEqual([]);
  });

  it("fails MetaMCP labelled as the monitor: its own PID namespace, MetaMCP's image", async () => {
    const appImage = remoteImage(METAMCP, "dev");
    const disguised = container({ name: "metamcp-container", role: "monitor", propertyDependencies: { image: [appImage] } });
    expect(await messages([appImage, disguised])).toEqual([
      expect.stringContaining("metamcp-container (metamcp-dev-monitor) is labelled monitor but runs in its own PID namespace"),
      expect.stringContaining(`runs MetaMCP's image (${METAMCP}) but is labelled monitor`),
    ]);
  });

  it("fails a swap of labels: the monitor labelled app, MetaMCP labelled monitor", async () => {
    const { resources } = stack({ app: { role: "monitor" }, monitor: { role: "app" } });
    expect(await messages(resources)).toEqual([
      expect.stringContaining("is labelled monitor but runs in its own PID namespace"),
      expect.stringContaining("runs MetaMCP's image"),
      expect.stringContaining("joins another container's PID namespace, which only the monitor does, but is labelled app"),
      expect.stringContaining("which is not MetaMCP (labelled monitor)"),
    ]);
  });

  it("fails a monitor that joins a PID namespace by a literal id", async () => {
    const { resources } = stack({ monitor: { props: { pidMode: "container:0123abcd", init: undefined }, propertyDependencies: {} } });
    expect(await messages(resources)).toEqual([expect.stringContaining("joins the PID namespace of container:0123abcd, a literal id")]);
  });

  it("fails a monitor that joins Postgres's PID namespace", async () => {
    const db = container({ role: "db" });
    const { resources } = stack({ monitor: { props: { pidMode: "container:db-id" }, propertyDependencies: { pidMode: [db] } } });
    expect(await messages([...resources, db])).toEqual([expect.stringContaining("joins the PID namespace of db-container (metamcp-dev-db), which is not MetaMCP (labelled db)")]);
  });

  it("fails a monitor in the host's PID namespace", async () => {
    const { resources } = stack({ monitor: { props: { pidMode: "host" }, propertyDependencies: {} } });
    expect(await messages(resources)).toEqual([expect.stringContaining("runs in the host's PID namespace")]);
  });

  it("fails a db container running MetaMCP's image by its own image reference", async () => {
    const rogue = container({ role: "db", props: { image: "ghcr.io/metatool-ai/metamcp@sha256:" + "a".repeat(64) } });
    expect(await messages([rogue])).toEqual([expect.stringContaining("runs MetaMCP's image")]);
  });

  it("recognises a mirror of MetaMCP's image through the app container's own image, or from config", async () => {
    const mirror = remoteImage("registry.internal/metamcp:2.4.22", "dev");
    const app = container({ propertyDependencies: { image: [mirror] } });
    const copy = container({ name: "copy", role: "guard", propertyDependencies: { image: [mirror] } });
    expect(await messages([mirror, app, copy])).toEqual([expect.stringContaining("copy (metamcp-dev-guard) runs MetaMCP's image (registry.internal/metamcp:2.4.22)")]);
    const alone = container({ name: "alone", role: "guard", propertyDependencies: { image: [mirror] } });
    expect(await messages([mirror, alone], { appImages: ["registry.internal/metamcp"] })).toHaveLength(1);
  });

  it("is not applicable to a stack without containers", async () => {
    expect((await validateStack(containerRolesMatchBehaviour, [remoteImage(METAMCP)])).notApplicable).toBe("the stack declares no containers");
  });
});

describe("reading behaviour", () => {
  it("tells whose PID namespace a container runs in", () => {
    const app = container();
    const kinds = [
      container({ props: { pidMode: undefined } }),
      container({ props: { pidMode: "host" } }),
      container({ props: { pidMode: "container:x" }, propertyDependencies: { pidMode: [app] } }),
      container({ props: { pidMode: UNKNOWN_STRING } }),
    ].map((c) => pidNamespaceOf(c).kind);
    expect(kinds).toEqual(["own", "host", "container", "unknown"]);
  });

  it("compares images by repository, without tag or digest", () => {
    expect({
      repositories: ["ghcr.io/metatool-ai/metamcp:2.4.22", "registry:5000/app", "registry:5000/app:1@sha256:ab", "busybox"].map(repositoryOf),
      matches: [isImageOf("ghcr.io/metatool-ai/metamcp:latest", ["ghcr.io/metatool-ai/metamcp"]), isImageOf("docker.io/metamcp:1", ["ghcr.io/metatool-ai/metamcp"])],
    }).toEqual({ repositories: ["ghcr.io/metatool-ai/metamcp", "registry:5000/app", "registry:5000/app", "busybox"], matches: [true, false] });
  });

  it("takes a pidMode computed from something that is not a container for a literal id", () => {
    const other = resource({ type: "random:index/randomId:RandomId", name: "r", props: {} });
    expect(pidNamespaceOf(container({ propertyDependencies: { pidMode: [other] }, props: { pidMode: "container:x" } }))).toEqual({ kind: "container", from: [], pidMode: "container:x" });
  });
});
