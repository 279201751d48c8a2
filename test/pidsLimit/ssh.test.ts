// The ssh:// transport against a real sshd on 127.0.0.1 (started here with a throwaway key), which runs
// `docker system dial-stdio` like the docker CLI and the Pulumi docker provider do: PidsLimit's calls, and the
// exec that MetaMcpSettings runs psql with (an upgraded connection whose sending half is closed after stdin).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { freePort } from "../support/net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execInContainer } from "../../infra/dockerEngine/exec";
import { applyPidsLimit, getPidsLimit } from "../../infra/pidsLimit/dockerApi";
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
  });
});
