/**
 * A real systemd host reachable over real SSH, for the host-slice tests: Debian bookworm with
 * systemd as PID 1, in a container on the local engine, sshd on 127.0.0.1:<free port>.
 *
 *     const host = await startSystemdHost();      // builds the image on first use (~1 min)
 *     await host.ssh("systemctl is-system-running");
 *     await host.remove();                          // or removeTestContainers() in afterAll
 *
 * The image is built from Debian's packages with debootstrap (no registry is needed) and cached
 * twice: as the image itself and as a rootfs tarball under .cache/ (gitignored), so a pruned
 * image comes back in seconds and a fresh machine builds it from scratch.
 *
 * Why these `docker run` flags: systemd needs the cgroup tree (`--cgroupns=host` and
 * /sys/fs/cgroup mounted rw) and tmpfs on /run; `--privileged` fails on these machines because
 * SYS_RESOURCE is missing from the bounding set, so every other capability is added instead.
 * `--network host` because the engine runs without a bridge; sshd listens on 127.0.0.1 only.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docker, testLabelArgs } from "./docker";
import { oncePerProcess } from "./images";

export const SYSTEMD_IMAGE = "metamcp-guard-test/systemd:bookworm";
/** Bumped when the recipe changes, so an image built by an older recipe is rebuilt. */
const RECIPE = "systemd-bookworm-2";
const IMAGE_LABEL = "metamcp-guard.test-image";
const PACKAGES = "systemd,systemd-sysv,openssh-server,dbus,procps,sudo";
const CACHE_DIR = join(__dirname, "..", "..", ".cache", "systemd-host");
const ROOTFS_TAR = join(CACHE_DIR, `${RECIPE}.tar`);
const MIRROR = process.env.METAMCP_GUARD_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";

/** Users in the image: root, `deploy` (passwordless sudo) and `nosudo` (no sudo rule). */
export type HostUser = "root" | "deploy" | "nosudo";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SystemdHost {
  containerId: string;
  port: number;
  /** The test key pair's private half (its public half is authorized for every user). */
  privateKey: string;
  keyFile: string;
  /** The host's ed25519 public key, `ssh-ed25519 AAAA…`. */
  hostKey: string;
  /** Runs `command` over SSH as `user` (root by default); never throws on a non-zero exit. */
  ssh(command: string, user?: HostUser): Promise<CommandResult>;
  /** Runs a command in the container without SSH (for setup and inspection). */
  exec(...args: string[]): Promise<string>;
  remove(): Promise<void>;
}

/** The systemd image, built or re-imported when missing. */
export const systemdImage = oncePerProcess(async () => {
  if ((await imageLabelValue()) === RECIPE) return SYSTEMD_IMAGE;
  if (!existsSync(ROOTFS_TAR)) await buildRootfsTar();
  await run("docker", ["import", "-c", 'CMD ["/sbin/init"]', "-c", `LABEL ${IMAGE_LABEL}=${RECIPE}`, ROOTFS_TAR, SYSTEMD_IMAGE]);
  return SYSTEMD_IMAGE;
});

async function imageLabelValue(): Promise<string | undefined> {
  try {
    return await docker("image", "inspect", "-f", `{{index .Config.Labels "${IMAGE_LABEL}"}}`, SYSTEMD_IMAGE);
  } catch {
    return undefined;
  }
}

/** debootstrap into a folder next to the cache, add the test users, tar it up, drop the folder. */
async function buildRootfsTar(): Promise<void> {
  await ensureDebootstrap();
  mkdirSync(CACHE_DIR, { recursive: true });
  const root = mkdtempSync(join(CACHE_DIR, "rootfs-"));
  try {
    await run("debootstrap", ["--variant=minbase", `--include=${PACKAGES}`, "bookworm", root, MIRROR], 600_000);
    await run("chroot", [root, "useradd", "--create-home", "--shell", "/bin/sh", "deploy"]);
    await run("chroot", [root, "useradd", "--create-home", "--shell", "/bin/sh", "nosudo"]);
    writeFileSync(join(root, "etc/sudoers.d/deploy"), "deploy ALL=(ALL) NOPASSWD: ALL\n", { mode: 0o440 });
    // Keys are injected per run (see startSystemdHost); sshd reads them from one root-owned place.
    writeFileSync(
      join(root, "etc/ssh/sshd_config.d/00-metamcp-guard-test.conf"),
      "PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile /etc/ssh/authorized_keys/%u\n",
    );
    const partial = `${ROOTFS_TAR}.partial`;
    await run("tar", ["-C", root, "--numeric-owner", "-cf", partial, "."], 300_000);
    renameSync(partial, ROOTFS_TAR);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * debootstrap, installed from Debian's packages when missing: a fresh CI machine has to build
 * the image, and building needs root (debootstrap, chroot) anyway.
 */
async function ensureDebootstrap(): Promise<void> {
  if (existsSync("/usr/sbin/debootstrap")) return;
  const hint = "building the systemd test host needs debootstrap: apt-get install -y debootstrap";
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) throw new Error(hint);
  const install = () => runResult("apt-get", ["install", "-y", "--no-install-recommends", "debootstrap"], 300_000);
  let result = await install();
  if (result.code !== 0) {
    await runResult("apt-get", ["update"], 300_000);
    result = await install();
  }
  if (result.code !== 0) throw new Error(`${hint} (apt-get failed: ${result.stderr.trim().slice(-500)})`);
}

/** Starts a fresh host: own key pair, own port, labelled for removeTestContainers(). */
export async function startSystemdHost(): Promise<SystemdHost> {
  const image = await systemdImage();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "metamcp-guard-systemd-"));
  const keyFile = join(dir, "id_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "metamcp-guard-test", "-f", keyFile]);
  const publicKey = await run("cat", [`${keyFile}.pub`]);
  const privateKey = await run("cat", [keyFile], undefined, false);

  // Files copied in before the first boot: the port and the authorized key of each user.
  const inject = join(dir, "inject");
  mkdirSync(join(inject, "etc/ssh/sshd_config.d"), { recursive: true });
  mkdirSync(join(inject, "etc/ssh/authorized_keys"), { recursive: true });
  writeFileSync(join(inject, "etc/ssh/sshd_config.d/10-port.conf"), `Port ${port}\nListenAddress 127.0.0.1\n`);
  for (const user of ["root", "deploy", "nosudo"]) {
    writeFileSync(join(inject, "etc/ssh/authorized_keys", user), publicKey, { mode: 0o644 });
  }

  const containerId = await docker(
    "create",
    ...testLabelArgs(),
    "--cap-add", "ALL",
    "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined",
    "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run",
    "--tmpfs", "/run/lock",
    "--network", "host",
    image,
  );
  const remove = async () => {
    await docker("rm", "-f", "-v", containerId).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await pipe(["tar", "-C", inject, "--owner=0", "--group=0", "--numeric-owner", "-c", "."], ["docker", "cp", "-", `${containerId}:/`]);
    await docker("start", containerId);

    const ssh = (command: string, user: HostUser = "root") =>
      runResult("ssh", [
        "-i", keyFile, "-p", String(port), "-l", user,
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "ConnectTimeout=5",
        "127.0.0.1", "--", command,
      ]);
    await waitForSsh(ssh, port);
    const hostKey = (await docker("exec", containerId, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")).split(/\s+/).slice(0, 2).join(" ");
    return {
      containerId,
      port,
      privateKey,
      keyFile,
      hostKey,
      ssh,
      exec: (...args: string[]) => docker("exec", containerId, ...args),
      remove,
    };
  } catch (err) {
    const logs = await docker("logs", "--tail", "30", containerId).catch(() => "");
    await remove();
    throw new Error(`the systemd test host did not come up: ${(err as Error).message}\n${logs}`);
  }
}

/** Until sshd answers and systemd has finished booting (running, or degraded by some unit). */
async function waitForSsh(ssh: SystemdHost["ssh"], port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last: CommandResult | undefined;
  while (Date.now() < deadline) {
    last = await ssh("systemctl is-system-running --wait");
    if (/^(running|degraded)/.test(last.stdout.trim())) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no systemd over ssh on 127.0.0.1:${port} after 60 s: ${last?.stdout.trim()} ${last?.stderr.trim()}`);
}


function runResult(file: string, args: string[], timeout = 120_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 255) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? err.message : "") });
    });
  });
}

async function run(file: string, args: string[], timeout?: number, trim = true): Promise<string> {
  const result = await runResult(file, args, timeout);
  if (result.code !== 0) throw new Error(`${file} ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim().slice(-2000)}`);
  return trim ? result.stdout.trim() : result.stdout;
}

/** `a | b`, failing when either side fails. */
function pipe(left: string[], right: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const producer = spawn(left[0], left.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const consumer = spawn(right[0], right.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    producer.stderr.on("data", (d) => (stderr += d));
    consumer.stderr.on("data", (d) => (stderr += d));
    producer.stdout.pipe(consumer.stdin);
    let pending = 2;
    let failed = false;
    const done = (name: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true;
        reject(new Error(`${name} failed (exit ${code}): ${stderr.trim()}`));
      }
      if (--pending === 0 && !failed) resolve();
    };
    producer.on("close", done(left.join(" ")));
    consumer.on("close", done(right.join(" ")));
  });
}
