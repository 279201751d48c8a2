/**
 * Checks that a suite removes the temporary folders it makes: the names in the system temp dir
 * with a prefix, before the suite and after it. Call it at the top of the suite's file.
 */
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, expect } from "vitest";

export function expectNoTempDirsLeft(prefix: string): void {
  let before: Set<string>;
  const present = () => readdirSync(tmpdir()).filter((name) => name.startsWith(prefix));
  beforeAll(() => {
    before = new Set(present());
  });
  afterAll(() => {
    expect(present().filter((name) => !before.has(name)), `temporary folders ${prefix}* left in ${tmpdir()}`).toEqual([]);
  });
}
