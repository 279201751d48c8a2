/**
 * The guard's image, built from guard/Dockerfile exactly as shipped, with only the base image swapped
 * (`--build-arg NODE_IMAGE=`): a local Node + npm image with an offline npm cache (test/support/images.ts),
 * since no registry can be reached here. The build runs with `--network none`, so it proves the image
 * needs nothing at build time beyond its lock file.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { REPO_ROOT } from "../../support/compile";
import { nodeNpmImage, oncePerProcess } from "../../support/images";

export const GUARD_TEST_IMAGE = "metamcp-guard-test/session-guard:local";

/** Builds (once per process) and names the guard's image. */
export const guardImage = oncePerProcess(async () => {
  const base = await nodeNpmImage();
  await dockerBuild([
    "build",
    // A failed step must not leave its container behind (the classic builder keeps it otherwise).
    "--force-rm",
    "--network", "none",
    "--build-arg", `NODE_IMAGE=${base}`,
    "--label", "metamcp-guard.test-image=session-guard",
    "-t", GUARD_TEST_IMAGE,
    path.join(REPO_ROOT, "guard"),
  ]);
  return GUARD_TEST_IMAGE;
});

/** `docker build` with the classic builder: this engine's CLI has no buildx, and the Dockerfile needs nothing newer. */
function dockerBuild(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "docker",
      args,
      { env: { ...process.env, DOCKER_BUILDKIT: "0" }, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve();
        // npm prints to the build output (stdout); ENOTCACHED there means this machine's npm cache lacks a package.
        const output = `${String(stdout).split("\n").slice(-15).join("\n")}\n${String(stderr).trim()}`;
        const hint = /ENOTCACHED/.test(output) ? "\n(the npm cache lacks a package of guard/package-lock.json: run `npm ci --prefer-online` in guard/ once)" : "";
        reject(new Error(`docker ${args.join(" ")} failed:\n${output}${hint}`));
      },
    );
  });
}
