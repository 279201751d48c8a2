// The ssh:// transport against a real sshd on 127.0.0.1 (started here with a throwaway key), which runs
// `docker system dial-stdio` like the docker CLI and the Pulumi docker provider do: PidsLimit's calls, and the
// exec that MetaMcpSettings runs psql with (an upgraded connection whose sending half is closed after stdin).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { freePort } from "../support/net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execInContainer } from "../../infra/dockerEngine/exec";
import { applyPidsLimit, getPidsLimit } from "../../infra/pidsLimit/dockerApi";
import { dockerProviderSshOpts } from "../../infra/sshPin";
import { describeWithDocker, docker, removeTestContainers, runTestContainer } from "../support/docker";
import { busyboxImage } from "../support/images";

const SSHD = "/usr/sbin/sshd";
const sshMissing = !fs.existsSync(SSHD)
  ? `${SSHD} not installed (apt-get install -y openssh-server)`
  : !commandExists("ssh") || !commandExists("ssh-keygen")
    ? "ssh / ssh-keygen not on PATH"
    : undefined;

function commandExists(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}


/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${log()}`);
}

describeWithDocker("ssh:// transport", () => {
  describe.skipIf(sshMissing !== undefined)(sshMissing ? `sshd on 127.0.0.1 [skipped: ${sshMissing}]` : "sshd on 127.0.0.1", () => {
    let dir: string;
    let sshd: ChildProcess | undefined;
    let sshdLog = "";
    let host: string;
    let sshArgs: string[];
    /** The client key only: no host-key options, so only the pin decides whom ssh trusts. */
    let keyOnly: string[];
    let hostKey: string;
    let id: string;

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "pids-ssh-"));
      const key = path.join(dir, "client_key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
      fs.copyFileSync(`${key}.pub`, path.join(dir, "authorized_keys"));
      const port = await freePort();
      fs.writeFileSync(
        path.join(dir, "sshd_config"),
        [
          `Port ${port}`,
          "ListenAddress 127.0.0.1",
          `HostKey ${dir}/host_key`,
          `PidFile ${dir}/sshd.pid`,
          `AuthorizedKeysFile ${dir}/authorized_keys`,
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "UsePAM no",
          "StrictModes no", // the temp dir's permissions are not sshd's business here
          "",
        ].join("\n"),
      );
      // privilege separation directory; the package creates it at boot, not at install
      try {
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
      } catch {
        // not root: sshd may still run for our own user; if not, its log says why
      }
      sshd = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
      sshd.stderr!.on("data", (d) => (sshdLog += d));
      await waitForPort(port, sshd, () => sshdLog);
      host = `ssh://${os.userInfo().username}@127.0.0.1:${port}`;
      sshArgs = ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];
      keyOnly = ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"];
      hostKey = fs.readFileSync(path.join(dir, "host_key.pub"), "utf8").split(/\s+/).slice(0, 2).join(" ");
      id = await runTestContainer("--network", "none", await busyboxImage(), "sleep", "3600");
    });

    afterAll(async () => {
      if (sshd && sshd.exitCode === null) sshd.kill();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      await removeTestContainers();
    });

    it("applies and reads back the limit over ssh + docker system dial-stdio", async () => {
      expect(await applyPidsLimit(host, id, 44, { sshArgs })).toBe(44);
      expect(await getPidsLimit(host, id, { sshArgs })).toBe(44);
      expect(await docker("inspect", "-f", "{{.HostConfig.PidsLimit}}", id)).toBe("44");
    });

    it("runs a command in the container over ssh: stdin in and closed, output and exit code back", async () => {
      expect(await execInContainer(host, id, ["sh", "-c", "cat; echo done >&2; exit 5"], { stdin: "over ssh\n", sshArgs })).toEqual({
        exitCode: 5,
        stdout: "over ssh\n",
        stderr: "done\n",
      });
    });

    it("reports a missing container as not found over ssh too", async () => {
      await expect(getPidsLimit(host, "no-such-container-mmg", { sshArgs })).rejects.toMatchObject({
        code: "CONTAINER_NOT_FOUND",
      });
    });

    it("an ssh failure says what ssh said, and names the host", async () => {
      const stranger = path.join(dir, "stranger_key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
      const wrongKey = sshArgs.map((a) => (a === sshArgs[1] ? stranger : a));
      const err = await getPidsLimit(host, id, { sshArgs: wrongKey }).then(() => undefined, (e: Error) => e);
      expect(err).toMatchObject({ code: "UNREACHABLE" });
      expect(err?.message).toContain(`cannot reach the Docker engine at ${host}`);
      expect(err?.message).toMatch(/ssh said: .*Permission denied/);
    });

    // Issue 12: the stack's pinned key decides, not the user's known_hosts.
    it("with the host's pinned key: the cap is applied and read back, and no known_hosts file is left", async () => {
      const before = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("metamcp-guard-known-hosts-"));
      expect(await applyPidsLimit(host, id, 45, { sshArgs: keyOnly, hostKey })).toBe(45);
      expect(await execInContainer(host, id, ["sh", "-c", "echo pinned"], { sshArgs: keyOnly, hostKey })).toMatchObject({ exitCode: 0, stdout: "pinned\n" });
      expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("metamcp-guard-known-hosts-"))).toEqual(before);
    });

    it("a host that shows another key than the pinned one is refused, whatever else ssh is told", async () => {
      const other = path.join(dir, "other_host_key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
      const wrongPin = fs.readFileSync(`${other}.pub`, "utf8").split(/\s+/).slice(0, 2).join(" ");
      // Even the test's own "trust anything" options come after the pin, and ssh keeps the first value.
      const err = await getPidsLimit(host, id, { sshArgs, hostKey: wrongPin }).then(() => undefined, (e: Error) => e);
      expect(err).toMatchObject({ code: "UNREACHABLE" });
      expect(err?.message).toMatch(/ssh said: .*(REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed)/s);
      expect(await docker("inspect", "-f", "{{.HostConfig.PidsLimit}}", id)).toBe("45");
    });

    it("the docker.Provider's sshOpts (a KnownHostsCommand) let ssh through with the pinned key and refuse another", () => {
      const port = host.replace(/^.*:(\d+)$/, "$1");
      const run = (pin: string) =>
        spawnSync("ssh", [...dockerProviderSshOpts(pin), ...keyOnly, "-p", port, "--", `${os.userInfo().username}@127.0.0.1`, "docker", "version", "--format", "{{.Server.APIVersion}}"], { encoding: "utf8", timeout: 30_000 });
      const pinned = run(hostKey);
      expect({ status: pinned.status, stdout: pinned.stdout.trim() }).toEqual({ status: 0, stdout: expect.stringMatching(/^1\.\d+$/) });
      const other = path.join(dir, "yet_another_host_key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
      const refused = run(fs.readFileSync(`${other}.pub`, "utf8").split(/\s+/).slice(0, 2).join(" "));
      expect({ status: refused.status, stderr: refused.stderr }).toEqual({ status: 255, stderr: expect.stringMatching(/Host key verification failed/) });
    });
  });
});
