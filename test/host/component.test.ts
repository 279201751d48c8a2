/**
 * HostSlices under Pulumi mocks: the Commands it declares, their options, and what a container
 * is given. The scripts recorded here are the ones the systemd-host test runs over SSH.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { HostSlices } from "../../infra/host/component";
import { planSlices } from "../../infra/host/plan";
import { applyScript, deleteScript } from "../../infra/host/scripts";
import { remoteCommand } from "../../infra/host/shell";
import { isSecretValue, unwrapSecret, waitForRegistrations } from "../support/mocks";
import { declareHostSlices, type RecordedCommand } from "./declare";
import { sliceSettings } from "./fixtures";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";

describe("HostSlices under mocks", () => {
  let commands: RecordedCommand[];
  let host: HostSlices;

  beforeAll(async () => {
    ({ commands, host } = await declareHostSlices(sliceSettings({ ssh: { user: "deploy", port: 2222, hostKey: "ssh-ed25519 AAAAC3Nz" } }), KEY));
  });

  it("declares one remote.Command per unit, parent first, named after the unit", () => {
    expect(commands.map((c) => c.name)).toEqual([
      "host-metamcp.slice",
      "host-metamcp-app.slice",
      "host-metamcp-db.slice",
      "host-metamcp-monitor.slice",
    ]);
  });

  it("carries the pure scripts, wrapped for a non-root user, for create, update and delete", () => {
    const plan = planSlices(sliceSettings());
    const app = commands.find((c) => c.name === "host-metamcp-app.slice")!;
    const apply = remoteCommand(applyScript(plan.children.app!, "prod"), "deploy");
    expect(app.inputs.create).toBe(apply);
    expect(app.inputs.update).toBe(apply);
    expect(app.inputs.delete).toBe(remoteCommand(deleteScript("metamcp-app.slice", "prod"), "deploy"));
    expect(app.inputs.create).toContain("sudo -n sh -c");
  });

  it("keeps the private key secret and pins the host key", () => {
    for (const c of commands) {
      const connection = unwrapSecret(c.inputs.connection);
      const key = connection.privateKey;
      expect(isSecretValue(c.inputs.connection) || isSecretValue(key)).toBe(true);
      expect(unwrapSecret(key)).toBe(KEY);
      expect(connection).toMatchObject({ host: "127.0.0.1", port: 2222, user: "deploy", hostKey: "ssh-ed25519 AAAAC3Nz" });
      expect(JSON.stringify({ ...c.inputs, connection: undefined })).not.toContain("PRIVATE KEY");
    }
  });

  it("sets the options the issue asks for", () => {
    for (const c of commands) {
      expect(c.inputs.addPreviousOutputInEnv).toBe(false);
      expect(c.inputs.environment).toBeUndefined();
      expect(c.inputs.logging).toBe("stdoutAndStderr");
      expect(c.options.deleteBeforeReplace).toBe(true);
      expect(c.options.parent).toMatch(/HostSlices::host$/);
    }
    const parentUrn = commands[0].urn;
    for (const child of commands.slice(1)) expect(child.options.dependencies).toContain(parentUrn);
  });

  it("gives each container its cgroupParent and the Command to depend on", async () => {
    expect(host.cgroupParent("app")).toBe("metamcp-app.slice");
    expect(host.cgroupParent("monitor")).toBe("metamcp-monitor.slice");
    const [dep] = host.dependsOn("db");
    expect(await new Promise((resolve) => (dep as pulumi.CustomResource).urn.apply(resolve))).toBe(
      commands.find((c) => c.name === "host-metamcp-db.slice")!.urn,
    );
  });

  it("declares nothing, and gives containers nothing, when slices are off", async () => {
    const off = sliceSettings({ host: { enabled: false } });
    const { commands: none, host: disabled } = await declareHostSlices(off, undefined);
    expect(none).toEqual([]);
    expect(disabled.cgroupParent("app")).toBeUndefined();
    expect(disabled.dependsOn("app")).toEqual([]);
    await waitForRegistrations();
  });

  it("refuses to run without a key when slices are on", async () => {
    await expect(declareHostSlices(sliceSettings(), undefined)).rejects.toThrow(/no sshPrivateKey/);
  });
});
