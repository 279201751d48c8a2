import { defineConfig } from "vitest/config";

/**
 * The focused cgroup v2 suite (test/v2host/), run against the Docker engine of the cgroup v2 VM that
 * scripts/v2host/vm.sh boots. Not part of `npm test`: it needs the VM, which `.ci/run` boots for it in its
 * own step (scripts/v2host/ci.sh). Without the VM it is a named skip, and a failure in CI (CI=true).
 * Run it locally with `bash scripts/v2host/ci.sh` (boots the VM, runs this, stops the VM).
 */
export default defineConfig({
  test: {
    include: ["test/v2host/**/*.test.ts"],
    setupFiles: ["test/v2host/setup.ts"],
    fileParallelism: false,
    // The VM is an emulated machine: several times slower on CPU, far slower at starting processes.
    testTimeout: 240_000,
    hookTimeout: 300_000,
  },
});
