/**
 * The images the stack builds itself (the monitor from monitor/, the session guard from guard/) are
 * built on the stack's Docker host. Each tag is a hash of the files that go into its build, so a
 * change to the code gives a new tag, and the new image replaces the running container; an unchanged
 * tree builds nothing new.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

/** The folder the monitor image is built from (monitor/ at the repo root). */
export const MONITOR_CONTEXT = join(__dirname, "..", "..", "monitor");
/** The folder the session guard's image is built from (guard/ at the repo root). */
export const GUARD_CONTEXT = join(__dirname, "..", "..", "guard");

/** Never part of the image's inputs: the same list as monitor/.dockerignore and guard/.dockerignore. */
const IGNORED = new Set(["node_modules", "dist"]);

/** Files under `dir`, relative, sorted, so the hash does not depend on directory order. */
export function contextFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (IGNORED.has(entry.name) || entry.name.endsWith(".tsbuildinfo")) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(relative(dir, path));
    }
  };
  walk(dir);
  return files.sort();
}

/** First 12 hex digits of a SHA-256 over every file's path and content. */
export function contextHash(dir: string): string {
  const hash = createHash("sha256");
  for (const file of contextFiles(dir)) {
    hash.update(file).update("\0").update(readFileSync(join(dir, file))).update("\0");
  }
  return hash.digest("hex").slice(0, 12);
}
