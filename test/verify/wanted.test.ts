/**
 * What verify expects of each container, from the real stack files through the components' own
 * helpers: the values people wrote, in the units `docker inspect` reports.
 */
import { describe, expect, it } from "vitest";
import { HEALTHCHECK_COMMAND } from "../../infra/components/metamcp";
import { MONITOR_HEALTHCHECK } from "../../infra/components/monitor";
import { parseStackConfig, type StackConfig } from "../../infra/config";
import { securityOption } from "../../infra/verify/inspect";
import { readStackConfig } from "../../infra/verify/stackFile";
import { wantedContainers } from "../../infra/verify/wanted";
import { REPO_ROOT, TEST_HOST_KEY as HOST_KEY } from "../support/stackFiles";

const MIB = 1024 * 1024;
const dev = readStackConfig("dev", { projectDir: REPO_ROOT });

/** The dev config with some settings replaced, validated again (so slices get their ssh host). */
function devWith(values: Record<string, unknown>): StackConfig {
  const base = { app: { limits: { memory: "2g", cpus: 1 } } };
  return parseStackConfig({ stack: "dev", values: { ...base, ...values }, secretKeys: new Set() }, { requireSecrets: false }).config;
}

describe("wantedContainers", () => {
  it("the dev stack: app, Postgres, monitor and session guard with the stack file's limits", () => {
    const wanted = wantedContainers(dev);
    expect(wanted.map((c) => [c.role, c.name, c.memory / MIB, c.memorySwap / MIB, c.nanoCpus, c.pidsLimit, c.restart])).toEqual([
      ["app", "metamcp-dev", 2048, 2048, 1_000_000_000, 232, "unless-stopped"],
      ["db", "metamcp-dev-postgres", 256, 256, 500_000_000, 64, "unless-stopped"],
      ["monitor", "metamcp-dev-monitor", 128, 128, 250_000_000, 16, "always"],
      ["guard", "metamcp-dev-guard", 256, 256, 500_000_000, 32, "always"],
    ]);
  });

  it("the same log rotation and the stack's labels on every container", () => {
    for (const container of wantedContainers(dev)) {
      expect(container.log).toEqual({ type: "json-file", options: { "max-size": "10m", "max-file": "3" } });
      expect(container.labels).toEqual({
        "metamcp-guard.project": "metamcp-guard",
        "metamcp-guard.stack": "dev",
        "metamcp-guard.role": container.role,
      });
    }
  });

  it("init and health checks: the app's and the monitor's exact commands, Postgres any; no init for the monitor", () => {
    const [app, db, monitor] = wantedContainers(dev);
    expect(app).toMatchObject({ init: true, healthcheck: { test: HEALTHCHECK_COMMAND } });
    expect(db).toMatchObject({ init: true, healthcheck: {} });
    expect(db.healthcheck.test).toBeUndefined();
    expect(monitor.init).toBeUndefined();
    expect(monitor.healthcheck).toEqual({ test: MONITOR_HEALTHCHECK });
  });

  it("no-new-privileges on every container, as guardedContainerArgs sets it", () => {
    expect(wantedContainers(dev).map((c) => [c.role, c.securityOptions])).toEqual([
      ["app", { "no-new-privileges": "true" }],
      ["db", { "no-new-privileges": "true" }],
      ["monitor", { "no-new-privileges": "true" }],
      ["guard", { "no-new-privileges": "true" }],
    ]);
  });

  it("the session guard: every capability dropped, none added, a read-only root, init, its own health check", () => {
    const guard = wantedContainers(dev)[3];
    expect(guard).toMatchObject({
      capabilities: { adds: [], drops: ["ALL"] },
      readonlyRootfs: true,
      init: true,
      healthcheck: { test: ["CMD", "node", "/app/dist/healthcheck.js"] },
    });
  });

  it("the monitor: KILL added, ALL dropped, a read-only root, in MetaMCP's PID namespace", () => {
    const monitor = wantedContainers(dev)[2];
    expect(monitor).toMatchObject({
      capabilities: { adds: ["KILL"], drops: ["ALL"] },
      readonlyRootfs: true,
      pidNamespaceOf: { role: "app", name: "metamcp-dev" },
    });
  });

  it("MetaMCP and Postgres: no capability added, and their root and PID namespace are their own business", () => {
    for (const container of wantedContainers(dev).slice(0, 2)) {
      expect(container.capabilities).toEqual({ adds: [], drops: [] });
      expect(container.readonlyRootfs).toBeUndefined();
      expect(container.pidNamespaceOf).toBeUndefined();
    }
  });

  it("the monitor follows namePrefix to find MetaMCP", () => {
    expect(wantedContainers(devWith({ namePrefix: "edge" }))[2].pidNamespaceOf).toEqual({ role: "app", name: "edge" });
  });

  it("app.init false is what verify then expects", () => {
    expect(wantedContainers(devWith({ app: { limits: { memory: "2g", cpus: 1 }, init: false } }))[0].init).toBe(false);
  });

  it("prod: 4 GiB, no swap, 2 CPUs, 577 PIDs (from its capacity), 50m x 5 logs", () => {
    const [app] = wantedContainers(readStackConfig("prod", { projectDir: REPO_ROOT }));
    expect(app).toMatchObject({ name: "metamcp-prod", memory: 4096 * MIB, memorySwap: 4096 * MIB, nanoCpus: 2e9, pidsLimit: 577 });
    expect(app.log.options).toEqual({ "max-size": "50m", "max-file": "5" });
  });

  it("no Postgres with an external database, no monitor or guard when they are disabled", () => {
    const roles = wantedContainers(devWith({ database: { mode: "external" }, monitor: { enabled: false }, guard: { enabled: false } })).map((c) => c.role);
    expect(roles).toEqual(["app"]);
  });

  it("a proxy's labels are wanted on what it routes to: the guard, or the app without one", () => {
    const proxy = { network: "traefik", labels: { "traefik.enable": "true" } };
    const labelled = (values: Record<string, unknown>) =>
      wantedContainers(devWith(values)).filter((c) => c.labels["traefik.enable"] === "true").map((c) => c.role);
    expect({ guarded: labelled({ proxy }), unguarded: labelled({ proxy, guard: { enabled: false } }) }).toEqual({ guarded: ["guard"], unguarded: ["app"] });
  });

  it("CgroupParent: not checked without slices; the child slice's path (cgroupfs) or name (systemd) with them", () => {
    expect(wantedContainers(dev).every((c) => c.cgroupParent === undefined)).toBe(true);
    const host = (cgroupDriver: string) => ({ slices: { enabled: true, cgroupDriver }, ssh: { host: "example.internal", hostKey: HOST_KEY } });
    // The dev stack's slices: metamcp-dev.slice, nested by systemd's dash rule in metamcp.slice (which no stack writes).
    expect(wantedContainers(devWith({ host: host("cgroupfs") })).map((c) => c.cgroupParent)).toEqual([
      "/metamcp.slice/metamcp-dev.slice/metamcp-dev-app.slice",
      "/metamcp.slice/metamcp-dev.slice/metamcp-dev-db.slice",
      "/metamcp.slice/metamcp-dev.slice/metamcp-dev-monitor.slice",
      "/metamcp.slice/metamcp-dev.slice/metamcp-dev-guard.slice",
    ]);
    expect(wantedContainers(devWith({ host: host("systemd") }))[0].cgroupParent).toBe("metamcp-dev-app.slice");
  });
});

describe("securityOption: a --security-opt as the daemon reads it", () => {
  it.each([
    ["no-new-privileges", ["no-new-privileges", "true"]],
    ["no-new-privileges:true", ["no-new-privileges", "true"]],
    ["no-new-privileges=1", ["no-new-privileges", "true"]],
    ["no-new-privileges:false", ["no-new-privileges", "false"]],
    ["no-new-privileges=F", ["no-new-privileges", "false"]],
    ["label:disable", ["label", "disable"]],
    ["seccomp=/etc/docker/a:b.json", ["seccomp", "/etc/docker/a:b.json"]],
  ])("%s", (text, expected) => {
    expect(securityOption(text)).toEqual(expected);
  });
});
