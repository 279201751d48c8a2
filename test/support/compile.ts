/** Compiles one of the repository's programs (monitor/, guard/) with the repository's tsc, as its image does. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The repository's root folder (test/support/../..), for code that must not load the stack's modules. */
export const REPO_ROOT = path.join(__dirname, "..", "..");

/** A new temp folder (named from `tempPrefix`) holding `dist/`, the program in `folder` compiled. */
export function compileProgram(folder: string, tempPrefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), tempPrefix));
  const tsc = path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", path.join(REPO_ROOT, folder), "--outDir", path.join(dir, "dist")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return dir;
}
