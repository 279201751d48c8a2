// Fault: the MetaMCP container is replaced (a `cpus` edit, a new image: @pulumi/docker deletes and recreates
// it, deleteBeforeReplace), and the new container starts without a PID cap because @pulumi/docker cannot set
// one. The PidsLimit resource must notice and re-apply: run its provider the way the engine does on such an
// update (check, diff -> replace, create on the new id, delete of the old one) and see the cap in force.
import { afterAll, beforeAll, expect, it } from "vitest";
import { pidsLimitProvider as provider, type PidsLimitOutputs } from "../../infra/pidsLimit/provider";
import { describeWithDocker, docker, removeTestContainers } from "../support/docker";
import { nodeImage } from "../support/images";
import { cgroupDir, readCgroupNumber } from "./support/cgroup";
import { createWithoutPidCap, declaredSpec, DOCKER_HOST, type GuardSpec, reportFigures, startGuarded } from "./support/guarded";
import { FORK_BOMB } from "./support/programs";

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

  it("diff asks for a replacement on the new container id, create caps the new container, and the kernel enforces it", async () => {
    const run = ["--name", name, "--network", "none", image, "sleep", "600"];
    const oldId = await startGuarded(spec, run);
    const oldOuts: PidsLimitOutputs = { dockerHost: DOCKER_HOST, containerId: oldId, limit: spec.pids };

    // The replacement, as @pulumi/docker does it: the old container goes first, the new one has no cap.
    await docker("rm", "-f", oldId);
    const newId = await createWithoutPidCap(spec, run);
    await docker("start", newId);
    const pids = await cgroupDir(newId, "pids");
    const uncapped = readCgroupNumber(pids, "pids.max");
    expect(uncapped, "a fresh container should have no PID cap until PidsLimit acts").toBe(Infinity);

    const news = { dockerHost: DOCKER_HOST, containerId: newId, limit: spec.pids };
    const checked = await provider.check!(oldOuts, news);
    expect(checked.failures).toEqual([]);
    const checkedInputs = checked.inputs!;
    const diff = await provider.diff!(oldId, oldOuts, checkedInputs);
    expect(diff).toMatchObject({ changes: true, replaces: ["containerId"], deleteBeforeReplace: false });
    // Replace without deleteBeforeReplace: create the new resource, then delete the old one.
    const created = await provider.create(checkedInputs);
    expect(created).toEqual({ id: newId, outs: { dockerHost: DOCKER_HOST, containerId: newId, limit: spec.pids } });
    // The old container is gone: deleting the old resource must succeed without touching the new one.
    await expect(provider.delete!(oldId, oldOuts)).resolves.toBeUndefined();

    const inForce = readCgroupNumber(pids, "pids.max");
    expect(inForce).toBe(spec.pids);
    expect(await docker("inspect", "-f", "{{.HostConfig.PidsLimit}}", newId)).toBe(String(spec.pids));
    // And it holds: a short bomb stops at the cap.
    const bomb = JSON.parse(
      (await docker("exec", "-e", "BOMB_MS=3000", newId, "node", "-e", FORK_BOMB)).split("\n").at(-1)!,
    ) as { spawned: number; refused: number };
    const peak = readCgroupNumber(pids, "pids.peak");
    reportFigures("pids-reapply-after-replace", {
      stack: spec.stack,
      pidsCap: spec.pids,
      newContainerPidsMaxBefore: uncapped === Infinity ? "max" : uncapped,
      newContainerPidsMaxAfter: inForce,
      diffReplaces: diff.replaces,
      peakPids: peak,
      refusedForks: bomb.refused,
    });
    expect(peak).toBe(spec.pids);
    expect(bomb.refused).toBeGreaterThan(0);
  }, 60_000);
});
