/**
 * Real-engine test support: find out whether a Docker engine answers, gate suites on it, run the docker CLI,
 * and clean up the containers tests create.
 *
 * Usage:
 *
 *     import { afterAll } from "vitest";
 *     import { describeWithDocker, docker, runTestContainer, removeTestContainers } from "../support/docker";
 *
 *     describeWithDocker("pids limit on a real engine", () => {
 *       afterAll(removeTestContainers);
 *       it("…", async () => {
 *         const id = await runTestContainer("--network", "none", image, "sleep", "300");
 *         expect(await docker("inspect", "-f", "{{.State.Running}}", id)).toBe("true");
 *       });
 *     });
 *
 * Every container a test starts must carry TEST_LABEL (runTestContainer adds it, or pass `...testLabelArgs()`
 * to your own `docker run`), so removeTestContainers() can find it whatever happened to the test.
 */
import { afterAll, beforeAll } from "vitest";
import { dockerUnavailableReason } from "./dockerCli";
import { describeNeeding } from "./gate";
import { engineOverTcp } from "./net";

export * from "./dockerCli";

/** `describe` for suites that need a real engine; see dockerSuiteMode. A skipped suite's name says why. */
export function describeWithDocker(name: string, fn: () => void): void {
  describeNeeding(name, dockerUnavailableReason(), "a Docker engine", fn);
}

/**
 * Inside a describe block: the engine at `dockerHost` (unix://) also reached over tcp:// on 127.0.0.1 for the
 * block's tests (engineOverTcp, opened before them and closed after). Call the returned function in a test for
 * the tcp:// host.
 */
export function useEngineOverTcp(dockerHost: string): () => string {
  let forwarder: Awaited<ReturnType<typeof engineOverTcp>> | undefined;
  beforeAll(async () => {
    forwarder = await engineOverTcp(dockerHost);
  });
  afterAll(() => forwarder?.close());
  return () => {
    if (!forwarder) throw new Error("useEngineOverTcp: the forwarder is not open (call the getter inside a test)");
    return forwarder.host;
  };
}
