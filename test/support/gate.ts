/**
 * Suites that need a server this machine may not have (a Docker engine, PostgreSQL): run them when it answers;
 * without it, FAIL in CI (`CI` set), because a green CI run that silently skipped them proves nothing; skip
 * locally, with the reason in the suite's name. describeWithDocker and describeWithPostgres are this gate.
 */
import { describe, it } from "vitest";
import { dockerSuiteMode } from "./dockerCli";

/** `describe` gated on `unavailableReason` (undefined = the server answers); `needs` says what, in the CI failure. */
export function describeNeeding(name: string, unavailableReason: string | undefined, needs: string, fn: () => void): void {
  switch (dockerSuiteMode(unavailableReason, process.env.CI)) {
    case "run":
      describe(name, fn);
      break;
    case "fail":
      describe(name, () => {
        it(`needs ${needs} (CI is set, so this is a failure, not a skip)`, () => {
          throw new Error(unavailableReason);
        });
      });
      break;
    case "skip":
      describe.skip(`${name} [skipped: ${unavailableReason}]`, fn);
      break;
  }
}
