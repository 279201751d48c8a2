// Fault: the MetaMCP container is replaced (a `cpus` edit, a new image: @pulumi/docker deletes and recreates
// it, deleteBeforeReplace). The new container is created stopped (`start: false`), because @pulumi/docker
// cannot set a PID cap: the PidsLimit resource must be replaced too, cap the new container and only then
// start it. Run its provider the way the engine does on such an update (check, diff -> replace, create on the
// new id, delete of the old one) and see that the container's very first process already ran under the cap.
import { afterAll, beforeAll, expect, it } from "vitest";
import { pidsLimitProvider as provider } from "../../infra/pidsLimit/provider";
import { describeWithDocker, docker, removeTestContainers } from "../support/docker";
import { nodeImage } from "../support/images";
import { containerCgroup, readPids } from "./support/cgroup";
import { createWithoutPidCap, declaredSpec, type GuardSpec, pidsLimitInputs, reportFigures, startGuarded } from "./support/guarded";
import { FIRST_PROCESS_PIDS_MAX, FORK_BOMB } from "./support/programs";
import { waitUntil } from "../support/wait";

describeWithDocker("PID cap after the container is replaced", () => {
  let spec: GuardSpec;
  let image: string;
  /** One fixed name, as the stack gives MetaMCP: the replacement takes the old container's name. */
  const name = `metamcp-guard-load-replace-${process.pid}`;

  beforeAll(async () => {
    spec = await declaredSpec("prod");
    image = await nodeImage();
  });
  afterAll(removeTestContainers);

  it("diff asks for a replacement on the new container id; create caps the stopped container, then starts it; its first process sees the cap", async () => {
    // The image's command prints the pids.max its first process finds, then waits.
    const run = ["--name", name, "--network", "none", image, "sh", "-c", `${FIRST_PROCESS_PIDS_MAX}; exec sleep 600`];
    const oldId = await startGuarded(spec, run);
    const oldOuts = (await provider.read!(oldId, pidsLimitInputs(spec, oldId))).props!;

    // The replacement, as @pulumi/docker does it: the old container goes first, the new one is created stopped.
    await docker("rm", "-f", oldId);
    const newId = await createWithoutPidCap(spec, run);
    expect(await docker("inspect", "-f", "{{.State.Status}} {{.HostConfig.PidsLimit}}", newId)).toMatch(/^created (<nil>|0|-1)$/);

    const news = pidsLimitInputs(spec, newId);
    const checked = await provider.check!(oldOuts, news);
    expect(checked.failures).toEqual([]);
    const checkedInputs = checked.inputs!;
    const diff = await provider.diff!(oldId, oldOuts, checkedInputs);
    expect(diff).toMatchObject({ changes: true, replaces: ["containerId"], deleteBeforeReplace: false });
    // Replace without deleteBeforeReplace: create the new resource, then delete the old one.
    const created = await provider.create(checkedInputs);
    expect(created).toEqual({ id: newId, outs: { ...news, limit: spec.pids, running: true } });
    // The old container is gone: deleting the old resource must succeed without touching the new one.
    await expect(provider.delete!(oldId, oldOuts)).resolves.toBeUndefined();

    await waitUntil(async () => (await docker("logs", newId)).trim() !== "", 30_000, "the first process to report its pids.max");
    const seenByFirstProcess = (await docker("logs", newId)).trim().split("\n")[0];
    const pids = await containerCgroup(newId);
    const inForce = (await readPids(pids)).max;
    expect(seenByFirstProcess).toBe(String(spec.pids));
    expect(inForce).toBe(spec.pids);
    expect(await docker("inspect", "-f", "{{.HostConfig.PidsLimit}}", newId)).toBe(String(spec.pids));
    // And it holds: a short bomb stops at the cap.
    const bomb = JSON.parse(
      (await docker("exec", "-e", "BOMB_MS=3000", newId, "node", "-e", FORK_BOMB)).split("\n").at(-1)!,
    ) as { spawned: number; refused: number };
    const peak = (await readPids(pids)).peak;
    reportFigures("pids-reapply-after-replace", {
      stack: spec.stack,
      pidsCap: spec.pids,
      newContainerStateBeforePidsLimit: "created",
      pidsMaxSeenByFirstProcess: seenByFirstProcess,
      newContainerPidsMaxAfter: inForce,
      diffReplaces: diff.replaces,
      peakPids: peak,
      refusedForks: bomb.refused,
    });
    expect(peak).toBe(spec.pids);
    expect(bomb.refused).toBeGreaterThan(0);
  }, 60_000);
});
