/** The limit policies, one passing and failing cases each, called directly. */
import { describe, expect, it } from "vitest";
import {
  containerCpuLimit,
  containerLogRotation,
  containerMemoryLimit,
  containerPidsLimit,
  containerRestartPolicy,
  containerSwapDisabled,
  logSizeMiB,
} from "../../policy/limits";
import { PIDS_LIMIT } from "../../policy/resources";
import { resource, UNKNOWN_NUMBER, UNKNOWN_STRING, validateResource, validateStack } from "./support/harness";
import { container, DOCKER_HOST, dockerProvider, pidsLimitFor, remoteImage } from "./support/fixtures";

const messages = async (outcome: Promise<{ violations: { message: string }[] }>) => (await outcome).violations.map((v) => v.message);

describe("container-memory-limit", () => {
  it("passes a container with a memory limit in range", async () => {
    expect(await messages(validateResource(containerMemoryLimit, container()))).toEqual([]);
  });

  it("fails a container without a memory limit", async () => {
    expect(await messages(validateResource(containerMemoryLimit, container({ props: { memory: undefined } })))).toEqual([
      expect.stringContaining("app-container (metamcp-dev) has no memory limit"),
    ]);
  });

  it("fails a limit above the configured maximum", async () => {
    const outcome = validateResource(containerMemoryLimit, container({ props: { memory: 2048 } }), { maximumMiB: 1024 });
    expect(await messages(outcome)).toEqual([expect.stringContaining("2048 MiB; allowed: 6 to 1024 MiB")]);
  });

  it("fails a limit above the default maximum (16 GiB: the leak reached 14 GB)", async () => {
    expect(await messages(validateResource(containerMemoryLimit, container({ props: { memory: 32768 } })))).toHaveLength(1);
  });

  it("is not applicable to other resource types", async () => {
    expect((await validateResource(containerMemoryLimit, remoteImage("postgres:16"))).notApplicable).toBe("applies to docker containers only");
  });

  it("skips a value unknown during preview instead of failing to run", async () => {
    expect(await validateResource(containerMemoryLimit, container({ props: { memory: UNKNOWN_NUMBER } }))).toEqual({ violations: [] });
  });
});

describe("container-swap-disabled", () => {
  it("passes memorySwap = memory", async () => {
    expect(await messages(validateResource(containerSwapDisabled, container()))).toEqual([]);
  });

  it("fails memorySwap above memory", async () => {
    expect(await messages(validateResource(containerSwapDisabled, container({ props: { memorySwap: 2048 } })))).toEqual([
      expect.stringContaining("memorySwap 2048 but memory 1024"),
    ]);
  });

  it("fails an unset memorySwap (Docker then allows swap)", async () => {
    expect(await messages(validateResource(containerSwapDisabled, container({ props: { memorySwap: undefined } })))).toEqual([
      expect.stringContaining("does not set memorySwap"),
    ]);
  });
});

describe("container-cpu-limit", () => {
  it("passes a fractional CPU limit", async () => {
    expect(await messages(validateResource(containerCpuLimit, container({ props: { cpus: "0.5" } })))).toEqual([]);
  });

  it("fails a container without a CPU limit", async () => {
    expect(await messages(validateResource(containerCpuLimit, container({ props: { cpus: undefined } })))).toEqual([
      expect.stringContaining("has no CPU limit"),
    ]);
  });

  it.each(["0", "lots", "64"])("fails cpus %j", async (cpus) => {
    expect(await messages(validateResource(containerCpuLimit, container({ props: { cpus } })))).toEqual([
      expect.stringContaining("above 0 and at most 16"),
    ]);
  });
});

describe("container-log-rotation", () => {
  it("passes json-file with max-size and max-file", async () => {
    expect(await messages(validateResource(containerLogRotation, container()))).toEqual([]);
  });

  it("fails the daemon's default driver (no logDriver)", async () => {
    expect(await messages(validateResource(containerLogRotation, container({ props: { logDriver: undefined } })))).toEqual([
      expect.stringContaining("the daemon's default driver"),
    ]);
  });

  it("fails json-file without rotation options", async () => {
    expect(await messages(validateResource(containerLogRotation, container({ props: { logOpts: {} } })))).toEqual([
      expect.stringContaining("max-size"),
      expect.stringContaining("max-file"),
    ]);
  });

  it("fails a max-size above the configured maximum", async () => {
    const outcome = validateResource(containerLogRotation, container({ props: { logOpts: { "max-size": "2g", "max-file": "3" } } }));
    expect(await messages(outcome)).toEqual([expect.stringContaining('max-size "2g"')]);
  });

  it("reads Docker's sizes", () => {
    expect(["10m", "1g", "512k", "2.5M", "10mb"].map(logSizeMiB)).toEqual([10, 1024, 0.5, 2.5, undefined]);
  });
});

describe("container-restart-policy", () => {
  it("passes unless-stopped", async () => {
    expect(await messages(validateResource(containerRestartPolicy, container()))).toEqual([]);
  });

  it.each([["no"], [undefined]])("fails restart %j (an OOM kill would leave it down)", async (restart) => {
    expect(await messages(validateResource(containerRestartPolicy, container({ props: { restart } })))).toEqual([
      expect.stringContaining('has restart "no"'),
    ]);
  });

  it("takes the allowed list from config", async () => {
    const outcome = validateResource(containerRestartPolicy, container(), { allowed: ["always"] });
    expect(await messages(outcome)).toEqual([expect.stringContaining("allowed: always")]);
  });
});

describe("container-pids-limit", () => {
  const app = container();

  it("passes a container with one PidsLimit attached through containerId", async () => {
    expect(await validateStack(containerPidsLimit, [app, pidsLimitFor(app, 100)])).toEqual({ violations: [] });
  });

  it("fails a decoy: a PidsLimit beside the container (dependsOn) that caps a literal id", async () => {
    // What the pack accepted before: the dependency was there, the id was anybody's.
    const decoy = resource({ type: PIDS_LIMIT, name: "decoy", props: { dockerHost: DOCKER_HOST, containerId: "0123abcd", limit: 64 }, dependencies: [app] });
    expect((await validateStack(containerPidsLimit, [app, decoy])).violations).toEqual([
      { message: expect.stringContaining("app-container (metamcp-dev) has no PidsLimit whose containerId is its id"), urn: app.urn },
      { message: 'decoy caps "0123abcd", which is no container of this stack: set containerId to the container\'s id output (container.id).', urn: decoy.urn },
    ]);
  });

  it("fails a PidsLimit whose containerId is another container's literal id", async () => {
    const other = container({ name: "other", role: "db" });
    const decoy = resource({ type: PIDS_LIMIT, name: "decoy", props: { dockerHost: DOCKER_HOST, containerId: "app-container-id", limit: 64 } });
    const outcome = await validateStack(containerPidsLimit, [app, other, pidsLimitFor(other), decoy]);
    expect(outcome.violations.map((v) => v.urn)).toEqual([app.urn, decoy.urn]);
  });

  it("fails a PidsLimit that talks to another Docker host than the container's", async () => {
    const elsewhere = resource({ type: PIDS_LIMIT, name: "pids", props: { dockerHost: "ssh://deploy@other-host", containerId: "x", limit: 64 }, propertyDependencies: { containerId: [app] } });
    expect((await validateStack(containerPidsLimit, [app, elsewhere])).violations).toEqual([
      {
        message: 'pids does not cap app-container (metamcp-dev): its dockerHost "ssh://deploy@other-host" is not the container\'s Docker host "unix:///var/run/docker.sock": the cap would land on another engine.',
        urn: elsewhere.urn,
      },
    ]);
  });

  it("fails a container on the default provider (its host is whatever DOCKER_HOST says)", async () => {
    const unbound = container({ name: "unbound", provider: null });
    expect((await validateStack(containerPidsLimit, [unbound, pidsLimitFor(unbound)])).violations.map((v) => v.message)).toEqual([
      expect.stringContaining("has no explicit Docker provider"),
    ]);
  });

  it("skips the host comparison while the provider's host is unknown (preview)", async () => {
    const pending = container({ name: "pending", provider: dockerProvider({ host: UNKNOWN_STRING }) });
    expect(await validateStack(containerPidsLimit, [pending, pidsLimitFor(pending)])).toEqual({ violations: [] });
  });

  it("fails a PidsLimit whose containerId is computed from two containers", async () => {
    const other = container({ name: "other", role: "db" });
    const both = resource({ type: PIDS_LIMIT, name: "both", props: { dockerHost: DOCKER_HOST, containerId: "x", limit: 64 }, propertyDependencies: { containerId: [app, other] } });
    const outcome = await validateStack(containerPidsLimit, [app, other, both]);
    expect(outcome.violations.map((v) => v.message)).toEqual([expect.stringContaining("takes its containerId from app-container and other")]);
  });

  it("fails a container with no PidsLimit, naming the container", async () => {
    expect(await validateStack(containerPidsLimit, [app])).toEqual({
      violations: [{ message: expect.stringContaining("app-container (metamcp-dev) has no PidsLimit"), urn: app.urn }],
    });
  });

  it("fails a PidsLimit attached to another container", async () => {
    const other = container({ name: "other", role: "db" });
    const outcome = await validateStack(containerPidsLimit, [app, other, pidsLimitFor(other)]);
    expect(outcome.violations.map((v) => v.urn)).toEqual([app.urn]);
  });

  it("fails two PidsLimits on one container (they would overwrite each other)", async () => {
    const outcome = await validateStack(containerPidsLimit, [app, pidsLimitFor(app, 64, "a"), pidsLimitFor(app, 64, "b")]);
    expect(outcome.violations.map((v) => v.message)).toEqual([expect.stringContaining("has 2 PidsLimit resources (a, b)")]);
  });

  it.each([[0], [4], [-1], [100_000], [12.5]])("fails a limit of %j (default range 8 to 4096)", async (limit) => {
    const pids = pidsLimitFor(app, limit);
    expect(await validateStack(containerPidsLimit, [app, pids])).toEqual({
      violations: [{ message: expect.stringContaining("allowed: 8 to 4096"), urn: pids.urn }],
    });
  });

  it("takes the range from config", async () => {
    const outcome = await validateStack(containerPidsLimit, [app, pidsLimitFor(app, 100)], { maximum: 50 });
    expect(outcome.violations.map((v) => v.message)).toEqual([expect.stringContaining("allowed: 8 to 50")]);
  });

  it("still checks attachment when the container id is unknown (first preview)", async () => {
    // Reading containerId would throw, as in the server; the policy follows the dependency instead.
    const pids = resource({ type: PIDS_LIMIT, name: "pids", props: { dockerHost: DOCKER_HOST, containerId: UNKNOWN_STRING, limit: 100 }, propertyDependencies: { containerId: [app] } });
    expect(await validateStack(containerPidsLimit, [app, pids])).toEqual({ violations: [] });
  });
});
