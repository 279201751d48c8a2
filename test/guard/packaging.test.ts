/**
 * The guard image installs from guard/package-lock.json; the tests run the guard with the repository's
 * root install. They must be the same packages, byte for byte, or the tests would prove other code than
 * the image ships (and the offline image build in the engine suite would miss a package).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");
type Lock = { packages: Record<string, { version?: string; integrity?: string }> };
const read = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8")) as T;

describe("guard packaging", () => {
  const guardManifest = read<{ dependencies: Record<string, string>; devDependencies: Record<string, string> }>("guard/package.json");
  const guardLock = read<Lock>("guard/package-lock.json");
  const rootLock = read<Lock>("package-lock.json");

  it("pins every dependency to one exact version", () => {
    for (const [name, range] of Object.entries({ ...guardManifest.dependencies, ...guardManifest.devDependencies })) {
      expect(range, name).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it.each(Object.keys(read<{ dependencies: Record<string, string> }>("guard/package.json").dependencies))(
    "the root install carries runtime dependency %s at the guard's version",
    (name) => {
      expect(rootLock.packages[`node_modules/${name}`]?.version).toBe(guardManifest.dependencies[name]);
    },
  );

  it("every package of the guard's lock is in the root lock with the same integrity", () => {
    const missing = Object.entries(guardLock.packages)
      .filter(([key]) => key !== "")
      .filter(([key, entry]) => rootLock.packages[key]?.integrity !== entry.integrity)
      .map(([key, entry]) => `${key}@${entry.version}`);
    expect(missing).toEqual([]);
  });
});
