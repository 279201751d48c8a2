/**
 * The monitor keeper on a real systemd host over real SSH. The scripts run here are the ones the
 * prod stack's keeper Command carries, read from the resources recorded under Pulumi mocks (with
 * the stack's SSH settings pointed at the test host). The host has no Docker: a stand-in `docker`
 * on its PATH (fakeDocker.ts) answers `inspect` from state files and records every `start`.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { keeperNames } from "../../infra/host/keeperUnits";
import { describeWithDocker, removeTestContainers } from "../support/docker";
import { declareStack, ofType, type RecordedResource } from "../support/mocks";
import { startSystemdHost, type SystemdHost } from "../support/systemdHost";
import { waitUntil } from "../support/wait";
import { fakeDockerScript } from "./fakeDocker";

const STATE = "/var/lib/fake-docker";
const MONITOR = "metamcp-prod-monitor";
const APP = "metamcp-prod";
const { service: SERVICE, timer: TIMER, script: SCRIPT } = keeperNames({ stack: "prod", monitor: MONITOR, app: APP, intervalSeconds: 2 });

describeWithDocker("the monitor keeper on a real systemd host over SSH", () => {
  let host: SystemdHost;
  let keeper: RecordedResource;

  async function mustRun(command: string) {
    const result = await host.ssh(command);
    if (result.code !== 0) throw new Error(`exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    return result;
  }
  /** The containers' states as the stand-in docker reports them; undefined removes one. */
  async function setStates(monitor: string | undefined, app: string | undefined) {
    const write = (name: string, state: string | undefined) => (state === undefined ? `rm -f ${STATE}/${name}` : `echo ${state} > ${STATE}/${name}`);
    await mustRun(`${write(MONITOR, monitor)}; ${write(APP, app)}; rm -f ${STATE}/calls`);
  }
  const starts = async () => (await host.ssh(`grep '^start ' ${STATE}/calls || true`)).stdout.trim();
  /** One run of the service, as the timer would start it; waits for the oneshot to finish. */
  const trigger = () => host.ssh(`systemctl start ${SERVICE}`);

  beforeAll(async () => {
    host = await startSystemdHost();
    await host.exec("mkdir", "-p", STATE);
    await host.exec("sh", "-c", `cat > /usr/local/bin/docker <<'EOF'\n${fakeDockerScript(STATE)}EOF\nchmod 755 /usr/local/bin/docker`);
    const { resources } = await declareStack("prod", {
      "metamcp-guard:host": { ssh: { host: "127.0.0.1", port: host.port, user: "root", hostKey: host.hostKey }, keeper: { interval: "2s" } },
      "metamcp-guard:sshPrivateKey": host.privateKey,
    });
    [keeper] = ofType(resources, "command:remote:Command").filter((c) => c.name.startsWith("keeper-"));
  }, 600_000);

  afterAll(async () => {
    await host?.remove();
    await removeTestContainers();
  });

  it("create installs the units and the timer is active, enabled and scheduled", async () => {
    expect(keeper.name).toBe(`keeper-${TIMER}`);
    await setStates("running", "running");
    const created = await mustRun(keeper.inputs.create);
    expect(created.stdout).toMatch(new RegExp(`${TIMER} active: starts ${MONITOR} when it stopped while ${APP} runs, checked every 2s`));
    expect((await host.ssh(`systemctl is-active ${TIMER}`)).stdout.trim()).toBe("active");
    expect((await host.ssh(`systemctl is-enabled ${TIMER}`)).stdout.trim()).toBe("enabled");
    expect((await host.ssh(`systemctl list-timers --all --no-legend ${TIMER}`)).stdout).toContain(SERVICE);
    // No temp file left beside the units or the script.
    expect((await host.ssh(`ls -a /etc/systemd/system ${SCRIPT.replace(/\/[^/]+$/, "")} | grep '[.]metamcp-guard[.][0-9]' || true`)).stdout.trim()).toBe("");
    expect((await host.ssh(`ls ${SCRIPT}`)).code).toBe(0);
  });

  it("the service starts a stopped monitor while MetaMCP runs, and logs it to the journal", async () => {
    await setStates("exited", "running");
    expect((await trigger()).code).toBe(0);
    expect(await starts()).toBe(`start ${MONITOR}`);
    expect((await host.ssh(`cat ${STATE}/${MONITOR}`)).stdout.trim()).toBe("running");
    await waitUntil(
      async () => (await host.ssh(`journalctl -u ${SERVICE} --no-pager -o cat`)).stdout.includes(`metamcp-guard keeper: started ${MONITOR}`),
      10_000,
      "the keeper's line in the journal",
    );
  });

  it("the service does nothing while the monitor runs or MetaMCP is down", async () => {
    for (const [monitor, app] of [["running", "running"], ["exited", "exited"], ["exited", "restarting"], [undefined, "running"]] as const) {
      await setStates(monitor, app);
      expect((await trigger()).code, `${monitor} / ${app}`).toBe(0);
      expect(await starts(), `${monitor} / ${app}`).toBe("");
    }
  });

  it("the timer alone brings a stopped monitor back within a few intervals", async () => {
    await setStates("exited", "running");
    const since = Date.now();
    await waitUntil(async () => (await starts()) === `start ${MONITOR}`, 15_000, "the timer to start the monitor");
    console.log(`keeper (interval 2s): monitor started ${Date.now() - since} ms after it was marked exited`);
  });

  it("a failed start marks the service failed, and the timer keeps trying", async () => {
    await setStates("exited-nostart", "running");
    const failed = await trigger();
    expect(failed.code).not.toBe(0);
    expect((await host.ssh(`systemctl is-failed ${SERVICE}`)).stdout.trim()).toBe("failed");
    expect((await host.ssh(`journalctl -u ${SERVICE} --no-pager -o cat`)).stdout).toMatch(/docker start metamcp-prod-monitor failed: Error response from daemon/);
    await mustRun(`rm -f ${STATE}/calls; echo exited > ${STATE}/${MONITOR}`);
    await waitUntil(async () => (await starts()) === `start ${MONITOR}`, 15_000, "the timer to try again after a failure");
    expect((await host.ssh(`systemctl is-active ${TIMER}`)).stdout.trim()).toBe("active");
  });

  it("update with a new interval takes effect in place", async () => {
    const { resources } = await declareStack("prod", {
      "metamcp-guard:host": { ssh: { host: "127.0.0.1", port: host.port, user: "root", hostKey: host.hostKey }, keeper: { interval: "30s" } },
      "metamcp-guard:sshPrivateKey": host.privateKey,
    });
    const [slower] = ofType(resources, "command:remote:Command").filter((c) => c.name.startsWith("keeper-"));
    expect(slower.name).toBe(keeper.name); // same resource: the engine runs update
    await mustRun(slower.inputs.update);
    expect((await host.ssh(`systemctl show -p TimersMonotonic --value ${TIMER}`)).stdout).toMatch(/OnUnitActiveUSec=30s/);
  });

  it("delete removes both units and the script, and can run twice", async () => {
    expect((await mustRun(keeper.inputs.delete)).stdout).toMatch(/stopped and removed/);
    for (const unit of [TIMER, SERVICE]) {
      expect((await host.ssh(`systemctl show -p LoadState,ActiveState --value ${unit}`)).stdout.trim().split("\n")).toEqual(["not-found", "inactive"]);
    }
    expect((await host.ssh(`ls ${SCRIPT} /etc/systemd/system/${TIMER} /etc/systemd/system/${SERVICE} 2>&1 || true`)).stdout).not.toMatch(/^\//m);
    await setStates("exited", "running");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await starts()).toBe("");
    await mustRun(keeper.inputs.delete);
  });

  // Issue 12: the keeper writes and removes only its own files.
  it("create refuses a unit or script that is not the stack's and keeps it; delete leaves them all", async () => {
    const cases: Array<[string, string, RegExp]> = [
      [`/etc/systemd/system/${SERVICE}`, "[Service]\nExecStart=/bin/true\n", /metamcp-prod-monitor-keeper\.service exists and was not written by metamcp-guard/],
      [`/etc/systemd/system/${TIMER}`, "# Written by metamcp-guard (Pulumi stack staging).\n[Timer]\n", /metamcp-prod-monitor-keeper\.timer belongs to Pulumi stack staging, not to stack prod/],
      [SCRIPT, "#!/bin/sh\necho mine\n", /metamcp-prod-monitor-keeper\.sh exists and was not written by metamcp-guard/],
    ];
    for (const [path, text, refusal] of cases) {
      try {
        await mustRun(`mkdir -p ${SCRIPT.replace(/\/[^/]+$/, "")} && printf '${text}' > ${path}`);
        const refused = await host.ssh(keeper.inputs.create);
        expect({ path, code: refused.code, stderr: refused.stderr }).toEqual({ path, code: 1, stderr: expect.stringMatching(refusal) });
        const deleted = await host.ssh(keeper.inputs.delete);
        expect({ path, code: deleted.code, kept: (await host.ssh(`cat ${path}`)).stdout }).toEqual({ path, code: 0, kept: text.replace(/\\n/g, "\n") });
      } finally {
        await mustRun(`rm -f ${path}`);
      }
    }
    expect((await host.ssh(`systemctl is-active ${TIMER}`)).stdout.trim()).not.toBe("active");
  });

  it("rewrites the script an older version wrote without an owner line", async () => {
    await mustRun(`printf 'set -u\\nmonitor=%s\\napp=%s\\n' "'${MONITOR}'" "'${APP}'" > ${SCRIPT}`);
    await setStates("running", "running");
    await mustRun(keeper.inputs.create);
    expect((await host.ssh(`head -n 1 ${SCRIPT}`)).stdout).toMatch(/^# Written by metamcp-guard \(Pulumi stack prod\)/);
    await mustRun(keeper.inputs.delete);
  });
});
