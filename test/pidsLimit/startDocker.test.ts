// scripts/start-docker.sh with fake docker, dockerd and apt-get on PATH: its decisions (install what is
// missing, tolerate a stale pid file, wait, report the log when the engine never answers), without touching
// the machine's real engine.
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const SCRIPT = path.resolve(__dirname, "../../scripts/start-docker.sh");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let bin: string;
let state: string;

/** Fake dockerd: records its argv, logs a line, and (unless told otherwise) makes `docker info` answer. */
const FAKE_DOCKERD = `#!/bin/sh
echo "$@" > "$STATE/dockerd.args"
echo "fake dockerd: starting"
[ -n "$FAKE_DOCKERD_NEVER_UP" ] || touch "$STATE/up"
`;

function write(file: string, text: string): void {
  fs.writeFileSync(file, text, { mode: 0o755 });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "start-docker-"));
  bin = path.join(dir, "bin");
  state = path.join(dir, "state");
  fs.mkdirSync(bin);
  fs.mkdirSync(state);
  write(
    path.join(bin, "docker"),
    `#!/bin/sh
[ "$1" = info ] || exit 2
if [ -f "$STATE/up" ]; then echo 99.0-fake; else echo "Cannot connect to the Docker daemon" >&2; exit 1; fi
`,
  );
  // apt-get "installs" docker.io by putting the fake dockerd on PATH.
  write(
    path.join(bin, "apt-get"),
    `#!/bin/sh
echo "$@" >> "$STATE/apt.log"
case " $* " in *" docker.io "*) cp "$STATE/dockerd.fake" "${bin}/dockerd"; chmod +x "${bin}/dockerd";; esac
`,
  );
  write(path.join(state, "dockerd.fake"), FAKE_DOCKERD);
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "bash",
      [SCRIPT],
      {
        env: {
          // No /usr/sbin or /usr/local/bin: the real dockerd and docker CLI must not be found.
          PATH: `${bin}:/usr/bin:/bin`,
          STATE: state,
          DOCKERD_LOG: path.join(dir, "dockerd.log"),
          DOCKERD_PIDFILE: path.join(dir, "docker.pid"),
          DOCKERD_WAIT_SECONDS: "5",
          BUSYBOX: "/bin/busybox",
          ...env,
        },
        timeout: 30_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const read = (name: string) => (fs.existsSync(path.join(state, name)) ? fs.readFileSync(path.join(state, name), "utf8") : "");

describe("scripts/start-docker.sh", () => {
  it("does nothing when the engine already answers", async () => {
    fs.writeFileSync(path.join(state, "up"), "");
    const r = await run();
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain("already answering (99.0-fake)");
    expect(read("apt.log")).toBe("");
    expect(read("dockerd.args")).toBe("");
  });

  it("installs docker.io and busybox-static when missing (apt-get update first), then starts dockerd", async () => {
    const r = await run({ BUSYBOX: path.join(dir, "no-busybox") });
    expect(r.code).toBe(0);
    expect(read("apt.log").trim().split("\n")).toEqual(["update -qq", "install -y -qq docker.io busybox-static"]);
    expect(read("dockerd.args").trim()).toBe(`--bridge=none --iptables=false --pidfile ${path.join(dir, "docker.pid")}`);
    expect(r.stdout).toMatch(/engine answering after \d+s \(99\.0-fake\)/);
  });

  it("removes a stale pid file (dead pid, or a live process that is not dockerd) and starts", async () => {
    write(path.join(bin, "dockerd"), FAKE_DOCKERD);
    const dead = Number(execFileSync("sh", ["-c", "sh -c 'echo $$' "], { encoding: "utf8" }).trim());
    for (const pid of [dead, process.pid]) {
      fs.rmSync(path.join(state, "up"), { force: true });
      fs.writeFileSync(path.join(dir, "docker.pid"), String(pid));
      const r = await run();
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`removing stale ${path.join(dir, "docker.pid")} (pid '${pid}')`);
      expect(fs.existsSync(path.join(dir, "docker.pid"))).toBe(false);
      expect(read("apt.log")).toBe("");
    }
  });

  it("fails with the dockerd log tail when the engine never answers", async () => {
    write(path.join(bin, "dockerd"), FAKE_DOCKERD);
    const r = await run({ FAKE_DOCKERD_NEVER_UP: "1", DOCKERD_WAIT_SECONDS: "1" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("did not answer within 1s");
    expect(r.stderr).toContain("fake dockerd: starting");
  });
});
