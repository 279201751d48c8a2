/**
 * scripts/v2host/vm.sh stop, on a run folder caught while the VM still boots: no SSH control master exists
 * yet, so `ssh -O check` fails. Under the script's errexit and pipefail that failure used to end stop()
 * before it stopped QEMU, and a cancelled CI run left the VM running (seen this way, and reproduced).
 *
 * No VM is needed: the "QEMU" is a copy of `sleep` named like it (the kernel's comm, which stop() checks
 * before it kills, is the first 15 characters of the name), and the ssh_config's control socket does not exist,
 * so ssh fails at once without connecting anywhere.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { REPO_ROOT } from "../support/stackFiles";

const made: { dirs: string[]; pids: number[] } = { dirs: [], pids: [] };

afterEach(() => {
  for (const pid of made.pids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone: what the test wants
    }
  }
  for (const dir of made.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it("stops QEMU and removes the run folder when no SSH control master exists yet", async () => {
  const tmp = process.env.TMPDIR ?? "/tmp";
  const run = fs.mkdtempSync(join(tmp, "mmg-v2host."));
  const binDir = fs.mkdtempSync(join(tmp, "mmg-fake-qemu-"));
  made.dirs.push(run, binDir);
  const fakeQemu = join(binDir, "qemu-system-x86_64");
  fs.copyFileSync(spawnSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).stdout.trim(), fakeQemu);
  fs.chmodSync(fakeQemu, 0o755);
  const qemu = spawn(fakeQemu, ["300"], { stdio: "ignore" });
  made.pids.push(qemu.pid!);
  const exited = new Promise<void>((resolve) => qemu.once("exit", () => resolve()));
  fs.writeFileSync(join(run, "qemu.pid"), `${qemu.pid}\n`);
  fs.writeFileSync(
    join(run, "ssh_config"),
    ["Host v2host", "  HostName 127.0.0.1", "  Port 9", "  BatchMode yes", `  ControlPath ${run}/ssh-%C`, ""].join("\n"),
  );
  expect(fs.readFileSync(`/proc/${qemu.pid}/comm`, "utf8").trim()).toBe("qemu-system-x86");

  // Run asynchronously: the fake QEMU is this process's child, and only a running event loop reaps it (stop()
  // waits for the pid to go, and a zombie's pid stays).
  const status = await new Promise<number | null>((resolve) =>
    spawn("bash", [join(REPO_ROOT, "scripts/v2host/vm.sh"), "stop", run], { stdio: "ignore", timeout: 30_000 }).once("exit", resolve),
  );

  expect(status).toBe(0);
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  expect(alive(qemu.pid!)).toBe(false);
  expect(fs.existsSync(run)).toBe(false);
});
