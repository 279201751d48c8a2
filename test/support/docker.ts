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
import { describe, it } from "vitest";
import { dockerSuiteMode, dockerUnavailableReason } from "./dockerCli";

export * from "./dockerCli";

/** `describe` for suites that need a real engine; see dockerSuiteMode. A skipped suite's name says why. */
export function describeWithDocker(name: string, fn: () => void): void {
  describeNeeding(name, "a Docker engine", dockerUnavailableReason(), fn);
}

/**
 * `describe` for a suite that needs `what` (a Docker engine, the cgroup v2 VM): run when `unavailableReason`
 * is undefined; otherwise skipped with the reason in its name, or, in CI, one failing test that says it.
 */
export function describeNeeding(name: string, what: string, unavailableReason: string | undefined, fn: () => void): void {
  switch (dockerSuiteMode(unavailableReason, process.env.CI)) {
    case "run":
      describe(name, fn);
      break;
    case "fail":
      describe(name, () => {
        it(`needs ${what} (CI is set, so this is a failure, not a skip)`, () => {
          throw new Error(unavailableReason);
        });
      });
      break;
    case "skip":
      describe.skip(`${name} [skipped: ${unavailableReason}]`, fn);
      break;
  }
}
