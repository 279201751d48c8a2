/**
 * A second, private Docker daemon for the one test that restarts a daemon: others run their tests against
 * the shared engine at the same time, so that one is never restarted.
 *
 * Everything is its own: socket, data root, exec root, pid file, a containerd it starts itself (there is no
 * system containerd socket here; its namespaces are distinct anyway), and a cgroup parent, so none of its
 * containers, images or cgroups mix with the shared engine's. No bridge, no iptables (this machine can
 * create neither). Paths are short: containerd's socket lives under the exec root and must fit in 108 bytes.
 *
 *     const daemon = await startPrivateDaemon();
 *     await daemon.loadImage(await nodeImage());
 *     await docker("-H", daemon.host, "run", …);
 *     await daemon.restart();
 *     await daemon.dispose();   // removes every container, stops it, deletes its folders and cgroups
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { docker } from "../../support/docker";
import { waitUntil } from "../../support/wait";

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
const CGROUP_ROOT = "/sys/fs/cgroup";

export interface PrivateDaemon {
  /** `unix:///…/d.sock`, for `docker -H` and for the PidsLimit provider. */
  host: string;
  /** Copies an image from the shared engine (`docker save | docker -H host load`). */
  loadImage(image: string): Promise<void>;
  /** SIGTERM, wait for it to exit (it stops its containers), start it again, wait until it answers. */
  restart(): Promise<void>;
  /** The daemon's log so far, for failure messages. */
  log(): string;
  /** Removes all its containers, stops it, deletes its folders and cgroup parent. Safe to call twice. */
  dispose(): Promise<void>;
}

export async function startPrivateDaemon(): Promise<PrivateDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mmg-dd-"));
  const host = `unix://${dir}/d.sock`;
  const logFile = path.join(dir, "dockerd.log");
  const cgroupParent = `/${path.basename(dir)}`;
  const args = [
    "--host", host,
    "--data-root", path.join(dir, "root"),
    "--exec-root", path.join(dir, "x"),
    "--pidfile", path.join(dir, "d.pid"),
    "--containerd-namespace", `${path.basename(dir)}`,
    "--containerd-plugins-namespace", `${path.basename(dir)}-plugins`,
    "--cgroup-parent", cgroupParent,
    "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
  ];
  let daemon: ChildProcess | undefined;
  // If the test process dies without dispose(), do not leave a daemon running.
  const killOnExit = () => daemon?.pid && daemon.exitCode === null && process.kill(daemon.pid, "SIGKILL");
  process.on("exit", killOnExit);

  const start = async () => {
    const out = fs.openSync(logFile, "a");
    daemon = spawn("dockerd", args, { stdio: ["ignore", out, out], detached: true });
    fs.closeSync(out);
    const exited = new Promise<void>((resolve) => daemon!.once("exit", () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    await waitUntil(
      async () => {
        if (gone) throw new Error(`the private dockerd exited at start; its log:\n${tail(logFile)}`);
        return docker("-H", host, "info", "--format", "{{.ServerVersion}}").then(() => true, () => false);
      },
      START_TIMEOUT_MS,
      `the private dockerd at ${host} to answer (log: ${logFile})`,
    );
  };

  const stop = async () => {
    const child = daemon;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  let disposed = false;
  await start();
  return {
    host,
    async loadImage(image) {
      await new Promise<void>((resolve, reject) => {
        const save = spawn("docker", ["save", image], { stdio: ["ignore", "pipe", "pipe"] });
        const load = spawn("docker", ["-H", host, "load"], { stdio: ["pipe", "ignore", "pipe"] });
        let stderr = "";
        save.stderr.on("data", (d) => (stderr += d));
        load.stderr.on("data", (d) => (stderr += d));
        save.stdout.pipe(load.stdin);
        save.on("error", reject);
        load.on("error", reject);
        load.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`loading ${image} failed: ${stderr.trim()}`))));
      });
    },
    async restart() {
      await stop();
      await start();
    },
    log: () => tail(logFile),
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        if (daemon && daemon.exitCode === null) {
          const ids = (await docker("-H", host, "ps", "-aq").catch(() => "")).split("\n").filter(Boolean);
          if (ids.length > 0) await docker("-H", host, "rm", "-f", "-v", ...ids).catch(() => undefined);
        }
      } finally {
        await stop();
        process.off("exit", killOnExit);
        removeCgroupParent(cgroupParent);
        // A stopped daemon unmounts its layers but leaves its network namespace file (nsfs) mounted, and rm
        // fails with EBUSY on a mount point: unmount whatever is left under the folder first.
        unmountUnder(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Unmounts (lazily, deepest first) every mount point under `dir`, as /proc/self/mounts lists them. */
function unmountUnder(dir: string): void {
  const points = fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1])
    .filter((point): point is string => point !== undefined && point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) execFileSync("umount", ["-l", point]);
}

/** rmdir of the (now empty) cgroup parent in every v1 hierarchy; best effort. */
function removeCgroupParent(parent: string): void {
  for (const hierarchy of fs.readdirSync(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, hierarchy, parent);
    try {
      fs.rmdirSync(dir);
    } catch {
      // not there (symlinked hierarchies like cpu -> cpu,cpuacct), or not empty: leave it
    }
  }
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
