/**
 * verify against a real Docker engine. The containers are created here with the settings the dev
 * stack file asks for, written out literally (not derived from verify's own code, so a mistake
 * there cannot cancel itself out), under a throwaway stack name and name prefix so that nobody
 * else's containers are touched. Then each setting is broken on its own and must be the one row
 * reported.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, rmdirSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HEALTHCHECK_COMMAND } from "../../infra/components/metamcp";
import { applyPidsLimit, dockerRequest } from "../../infra/pidsLimit/dockerApi";
import { verifyStack, type VerifyReport } from "../../infra/verify";
import { describeWithDocker, docker, removeTestContainers, runTestContainer, TEST_LABEL_KEY, TEST_OWNER_LABEL_KEY } from "../support/docker";
import { busyboxImage } from "../support/images";
import { REPO_ROOT, TEST_HOST_KEY } from "../support/stackFiles";

/** The engine the docker CLI talks to. */
const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const STACK = `verifytest${process.pid}`;
const PREFIX = `mgv-${process.pid}`;
const GIB = 1024 ** 3;
/** MetaMCP's PID cap in these tests: one server group's load (70 tasks) and some room. */
const APP_PIDS = 80;
const MIB = 1024 ** 2;
/** The rows of the kernel's own limits, one per cgroup file verify reads. */
const KERNEL_FILES = ["memory.max (kernel)", "memory.swap.max (kernel)", "pids.max (kernel)", "cpu.max (kernel)"];

type Role = "app" | "db" | "monitor";
const NAMES: Record<Role, string> = { app: PREFIX, db: `${PREFIX}-postgres`, monitor: `${PREFIX}-monitor` };

/** An Engine API create body, as Pulumi's docker provider sends it for the dev stack (Pulumi.dev.yaml). */
interface CreateBody {
  Image: string;
  Cmd: string[];
  Labels: Record<string, string>;
  Healthcheck?: { Test: string[]; Interval?: number; Retries?: number };
  HostConfig: Record<string, unknown>;
}

/**
 * The monitor's hardening as the stack declares it (infra/components/monitor.ts): MetaMCP's PID
 * namespace by id, every capability dropped but KILL, a read-only root.
 */
function monitorHardening(appId: string | undefined): Record<string, unknown> {
  if (!appId) throw new Error("the monitor joins MetaMCP's PID namespace: create MetaMCP first");
  return { PidMode: `container:${appId}`, CapDrop: ["ALL"], CapAdd: ["KILL"], ReadonlyRootfs: true };
}

/** `appId`: MetaMCP's container, whose PID namespace the monitor joins (monitor only). */
function devBody(role: Role, image: string, appId?: string): CreateBody {
  const limits = { app: [1 * GIB, 1e9], db: [256 * MIB, 0.5e9], monitor: [128 * MIB, 0.25e9] }[role];
  const health = {
    app: { Test: [...HEALTHCHECK_COMMAND], Interval: 3600e9, Retries: 3 },
    db: { Test: ["CMD-SHELL", "pg_isready -U metamcp_user -d metamcp_db"], Interval: 3600e9, Retries: 5 },
    monitor: { Test: ["CMD", "node", "/app/dist/healthcheck.js"], Interval: 3600e9, Retries: 3 },
  }[role];
  return {
    Image: image,
    Cmd: ["sleep", "3600"],
    Labels: {
      "metamcp-guard.project": "metamcp-guard",
      "metamcp-guard.stack": STACK,
      "metamcp-guard.role": role,
      [TEST_LABEL_KEY]: "1",
      [TEST_OWNER_LABEL_KEY]: String(process.pid),
    },
    ...(health ? { Healthcheck: health } : {}),
    HostConfig: {
      NetworkMode: "none",
      Memory: limits[0],
      MemorySwap: limits[0],
      NanoCpus: limits[1],
      Init: role !== "monitor",
      RestartPolicy: { Name: role === "monitor" ? "always" : "unless-stopped" },
      LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
      SecurityOpt: ["no-new-privileges:true"],
      ...(role === "monitor" ? monitorHardening(appId) : {}),
    },
  };
}

/**
 * Creates and (unless `start` is false) starts a container, then sets its PID cap with our
 * PidsLimit code as the stack does. One that will not start is removed, so its name is free again.
 */
async function createContainer(name: string, body: CreateBody, pids: number | null, { start = true } = {}): Promise<string> {
  const res = await dockerRequest(HOST, "POST", `/containers/create?name=${encodeURIComponent(name)}`, body);
  if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${res.body}`);
  const id = (JSON.parse(res.body) as { Id: string }).Id;
  if (start) {
    const started = await dockerRequest(HOST, "POST", `/containers/${id}/start`);
    if (started.status !== 204) {
      await docker("rm", "-f", id);
      throw new Error(`start ${name}: ${started.status} ${started.body}`);
    }
  }
  if (pids !== null) await applyPidsLimit(HOST, id, pids);
  return id;
}

const DEV_PIDS: Record<Role, number> = { app: APP_PIDS, db: 64, monitor: 16 };

/** A stack file for the test stack: the dev stack file with our name prefix and engine. */
function writeStackFile(dir: string, changes: Record<string, unknown> = {}): string {
  const document = parse(readFileSync(join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
  // MetaMCP as these containers are made (1 GiB, 80 PIDs): a capacity of one server group, which those
  // hold, so the capacity model accepts them (the dev file's own capacity needs 2g and 232).
  const app = { ...(document.config["metamcp-guard:app"] as Record<string, unknown>), capacity: { groups: 1 }, limits: { memory: "1g", memorySwap: "1g", cpus: 1, pids: APP_PIDS } };
  // The session guard is not among the containers made here (verify's guard rows: test/verify/wanted.test.ts).
  Object.assign(document.config, { "metamcp-guard:dockerHost": HOST, "metamcp-guard:namePrefix": PREFIX, "metamcp-guard:app": app, "metamcp-guard:guard": { enabled: false }, ...changes });
  const file = join(dir, `Pulumi.${STACK}-${Object.keys(changes).length}.yaml`);
  writeFileSync(file, stringify(document));
  return file;
}

/** The rows that are not ok, as [container, setting, in force, status]. */
function problems(report: VerifyReport): string[][] {
  return report.rows.filter((r) => r.status !== "ok").map((r) => [r.container, r.setting, r.inForce, r.status]);
}

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describeWithDocker("verify against a real engine (dev stack's settings, throwaway stack name)", () => {
  let image: string;
  let dir: string;
  let stackFile: string;
  const ids: Partial<Record<Role, string>> = {};
  const verify = (configFile = stackFile) => verifyStack({ stack: STACK, projectDir: REPO_ROOT, configFile });

  async function remove(role: Role): Promise<void> {
    if (ids[role]) await docker("rm", "-f", ids[role]!);
    delete ids[role];
  }

  /**
   * Replaces a container with one built from `body` (the dev body by default); `pids` null: no
   * PID cap. The monitor lives in MetaMCP's PID namespace and dies with it, so, as in the stack,
   * a new MetaMCP gets a new monitor that joins the new namespace.
   */
  async function replace(role: Role, body?: CreateBody, pids: number | null = DEV_PIDS[role], name = NAMES[role]): Promise<void> {
    const monitorFollows = role === "app" && ids.monitor !== undefined;
    if (monitorFollows) await remove("monitor");
    await remove(role);
    ids[role] = await createContainer(name, body ?? devBody(role, image, ids.app), pids);
    if (monitorFollows) await replace("monitor");
  }

  beforeAll(async () => {
    image = await busyboxImage();
    dir = mkdtempSync(join(tmpdir(), "verify-engine-"));
    stackFile = writeStackFile(dir);
    for (const role of ["app", "db", "monitor"] as const) await replace(role);
  });

  afterAll(async () => {
    await removeTestContainers();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("containers created with the dev stack's settings pass, the kernel's pids.max included", async () => {
    const report = await verify();
    expect(problems(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.kernelReadable).toBe(true);
    const kernelRows = report.rows.filter((r) => r.setting === "pids.max (kernel)").map((r) => [r.container, r.inForce, r.status]);
    expect(kernelRows).toEqual([
      [NAMES.app, String(APP_PIDS), "ok"],
      [NAMES.db, "64", "ok"],
      [NAMES.monitor, "16", "ok"],
    ]);
    const monitorRows = report.rows.filter((r) => r.container === NAMES.monitor).map((r) => [r.setting, r.inForce]);
    expect(monitorRows).toEqual(
      expect.arrayContaining([
        ["SecurityOpt no-new-privileges", "true"],
        ["CapAdd", "KILL"],
        ["CapDrop", "ALL"],
        ["ReadonlyRootfs", "true"],
        ["PidMode", `container:${ids.app}`],
        ["Docker socket", "not mounted"],
      ]),
    );
  });

  describe("a setting changed in place with docker update is the one row reported", () => {
    afterEach(async () => {
      // Back to the dev settings (all of them, whichever the test changed).
      await docker("update", "--memory", "1g", "--memory-swap", "1g", "--cpus", "1", "--restart", "unless-stopped", ids.app!);
      await applyPidsLimit(HOST, ids.app!, APP_PIDS);
    });

    it.each([
      ["--memory 512m", ["--memory", "512m"], [["Memory", "512m"], ["memory.max (kernel)", "512m"], ["memory.swap.max (kernel)", "512m"]]],
      ["--memory-swap 2g (swap allowed)", ["--memory-swap", "2g"], [["MemorySwap", "2g"], ["memory.swap.max (kernel)", "1g"]]],
      ["--cpus 2", ["--cpus", "2"], [["NanoCpus", "2 CPUs"], ["cpu.max (kernel)", "2 CPUs"]]],
      ["--restart no", ["--restart", "no"], [["RestartPolicy", "no"]]],
    ])("%s: Docker's value, and the kernel's where it holds one", async (_, flags, rows) => {
      await docker("update", ...flags, ids.app!);
      expect(problems(await verify())).toEqual(rows.map(([setting, inForce]) => [NAMES.app, setting, inForce, "mismatch"]));
    });

    it("--pids-limit 100: Docker's value and the kernel's both differ", async () => {
      await docker("update", "--pids-limit", "100", ids.app!);
      expect(problems(await verify())).toEqual([
        [NAMES.app, "PidsLimit", "100", "mismatch"],
        [NAMES.app, "pids.max (kernel)", "100", "mismatch"],
      ]);
    });

    it("the kernel's pids.max changed under Docker (as a systemd reload can): only the kernel row", async () => {
      writeFileSync(await kernelFile(ids.app!), "max");
      expect(problems(await verify())).toEqual([[NAMES.app, "pids.max (kernel)", "unlimited", "mismatch"]]);
    });
  });

  describe("a container re-created with one flag wrong is reported exactly", () => {
    afterEach(async () => replace("app"));

    const CASES: Array<[string, (body: CreateBody) => void, string, string]> = [
      ["without --init", (b) => (b.HostConfig.Init = false), "Init", "false"],
      ["with another log driver", (b) => (b.HostConfig.LogConfig = { Type: "local", Config: { "max-size": "10m", "max-file": "3" } }), "LogConfig.Type", "local"],
      ["with bigger log files", (b) => ((b.HostConfig.LogConfig as { Config: Record<string, string> }).Config["max-size"] = "100m"), "LogConfig max-size", "100m"],
      ["without log rotation count", (b) => delete (b.HostConfig.LogConfig as { Config: Record<string, string> }).Config["max-file"], "LogConfig max-file", "(unset)"],
      ["without a health check", (b) => delete b.Healthcheck, "Healthcheck", "none"],
      ["with another health check", (b) => (b.Healthcheck = { Test: ["CMD-SHELL", "true"] }), "Healthcheck", '["CMD-SHELL","true"]'],
      ["without the project label", (b) => delete b.Labels["metamcp-guard.project"], "Label metamcp-guard.project", "(absent)"],
      ["without no-new-privileges", (b) => delete b.HostConfig.SecurityOpt, "SecurityOpt no-new-privileges", "(absent)"],
      ["with an added capability", (b) => (b.HostConfig.CapAdd = ["NET_ADMIN"]), "CapAdd", "NET_ADMIN"],
      ["with the Docker socket bound", (b) => (b.HostConfig.Binds = ["/var/run/docker.sock:/var/run/docker.sock:ro"]), "Docker socket", "/var/run/docker.sock"],
    ];

    it.each(CASES)("%s", async (_, change, setting, inForce) => {
      const body = devBody("app", image);
      change(body);
      await replace("app", body);
      expect(problems(await verify())).toEqual([[NAMES.app, setting, inForce, "mismatch"]]);
    });

    it("without the stack's labels (re-created by hand): found by name, the missing labels reported", async () => {
      const body = devBody("app", image);
      delete body.Labels["metamcp-guard.stack"];
      delete body.Labels["metamcp-guard.role"];
      await replace("app", body);
      expect(problems(await verify())).toEqual([
        [NAMES.app, "Label metamcp-guard.stack", "(absent)", "mismatch"],
        [NAMES.app, "Label metamcp-guard.role", "(absent)", "mismatch"],
      ]);
    });

    it("without a PID cap", async () => {
      await replace("app", devBody("app", image), null);
      expect(problems(await verify())).toEqual([
        [NAMES.app, "PidsLimit", "unlimited", "mismatch"],
        [NAMES.app, "pids.max (kernel)", "unlimited", "mismatch"],
      ]);
    });

    it("under another name, with the stack's labels", async () => {
      await replace("app", devBody("app", image), APP_PIDS, `${PREFIX}-renamed`);
      expect(problems(await verify())).toEqual([[NAMES.app, "Container", `${PREFIX}-renamed`, "mismatch"]]);
    });

    it("stopped: the state is reported and the kernel is not read", async () => {
      await docker("stop", "-t", "0", ids.app!);
      // The monitor goes down with MetaMCP's PID namespace; how far its restarts got is a race, so only MetaMCP's rows.
      expect(problems(await verify()).filter(([name]) => name === NAMES.app)).toEqual([
        [NAMES.app, "State", "exited", "mismatch"],
        ...KERNEL_FILES.map((setting) => [NAMES.app, setting, "not readable: the container is not running", "unreadable"]),
      ]);
    });
  });

  it("a missing container is reported as MISSING, and the stack fails", async () => {
    await docker("rm", "-f", ids.db!);
    delete ids.db;
    try {
      const report = await verify();
      expect(problems(report)).toEqual([[NAMES.db, "Container", "missing", "missing"]]);
      expect(report.ok).toBe(false);
    } finally {
      await replace("db");
    }
  });

  it("a privileged Postgres is reported (created only: where the engine itself lacks capabilities, as here, it cannot start)", async () => {
    const body = devBody("db", image);
    body.HostConfig.Privileged = true;
    await remove("db");
    try {
      ids.db = await createContainer(NAMES.db, body, DEV_PIDS.db, { start: false });
      expect(problems(await verify())).toEqual([
        [NAMES.db, "State", "created", "mismatch"],
        ...KERNEL_FILES.map((setting) => [NAMES.db, setting, "not readable: the container is not running", "unreadable"]),
        [NAMES.db, "Privileged", "true", "mismatch"],
      ]);
    } finally {
      await replace("db");
    }
  });

  it("a second container with the stack's labels (a copy started by hand) is reported", async () => {
    const copy = await createContainer(`${PREFIX}-copy`, devBody("monitor", image, ids.app), 16);
    try {
      expect(problems(await verify())).toEqual([[NAMES.monitor, "Containers with these labels", `2 (also ${PREFIX}-copy)`, "mismatch"]]);
    } finally {
      await docker("rm", "-f", copy);
    }
  });

  describe("the monitor re-created with one flag wrong is reported exactly", () => {
    afterEach(async () => replace("monitor"));

    const CASES: Array<[string, (body: CreateBody) => void, string, string]> = [
      ["without no-new-privileges", (b) => delete b.HostConfig.SecurityOpt, "SecurityOpt no-new-privileges", "(absent)"],
      ["with a capability beyond KILL", (b) => (b.HostConfig.CapAdd = ["KILL", "SYS_PTRACE"]), "CapAdd", "KILL, SYS_PTRACE"],
      ["without --cap-drop ALL", (b) => delete b.HostConfig.CapDrop, "CapDrop", "(none)"],
      ["with a writable root", (b) => delete b.HostConfig.ReadonlyRootfs, "ReadonlyRootfs", "false"],
      ["in its own PID namespace", (b) => delete b.HostConfig.PidMode, "PidMode", "(own namespace)"],
      ["with another health check", (b) => (b.Healthcheck = { Test: ["CMD", "true"] }), "Healthcheck", '["CMD","true"]'],
    ];

    it.each(CASES)("%s", async (_, change, setting, inForce) => {
      const body = devBody("monitor", image, ids.app);
      change(body);
      await replace("monitor", body);
      expect(problems(await verify())).toEqual([[NAMES.monitor, setting, inForce, "mismatch"]]);
    });

    it("in Postgres's PID namespace instead of MetaMCP's", async () => {
      await replace("monitor", devBody("monitor", image, ids.db));
      expect(problems(await verify())).toEqual([[NAMES.monitor, "PidMode", `container:${ids.db}`, "mismatch"]]);
    });

    it("joined by name (as `docker run --pid container:<name>` does): the engine records the id, so it passes", async () => {
      await replace("monitor", devBody("monitor", image, NAMES.app));
      expect(problems(await verify())).toEqual([]);
    });

    it("started with the docker CLI, which writes CAP_KILL and a bare no-new-privileges: only the health check differs", async () => {
      await remove("monitor");
      // The CLI writes a health check only in shell form (CMD-SHELL), never the stack's exec form.
      ids.monitor = await runTestContainer(
        "--name", NAMES.monitor, "--network", "none",
        "--label", "metamcp-guard.project=metamcp-guard", "--label", `metamcp-guard.stack=${STACK}`, "--label", "metamcp-guard.role=monitor",
        "--memory", "128m", "--memory-swap", "128m", "--cpus", "0.25", "--pids-limit", "16", "--restart", "always",
        "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
        "--pid", `container:${NAMES.app}`, "--cap-drop", "ALL", "--cap-add", "KILL", "--read-only", "--security-opt", "no-new-privileges",
        "--health-cmd", "node /app/dist/healthcheck.js", "--health-interval", "1h",
        image, "sleep", "3600",
      );
      expect(await docker("inspect", "-f", "{{json .HostConfig.CapAdd}} {{json .HostConfig.SecurityOpt}}", ids.monitor)).toBe('["CAP_KILL"] ["no-new-privileges"]');
      expect(problems(await verify())).toEqual([[NAMES.monitor, "Healthcheck", '["CMD-SHELL","node /app/dist/healthcheck.js"]', "mismatch"]]);
    });
  });

  it("MetaMCP missing: its MISSING row, and the monitor's PidMode says what it wanted and fails", async () => {
    await remove("monitor");
    await remove("app");
    try {
      // A monitor in no MetaMCP's namespace: a stand-in for one left over from a removed MetaMCP.
      const body = devBody("monitor", image, ids.db);
      await replace("monitor", body);
      expect(problems(await verify())).toEqual([
        [NAMES.app, "Container", "missing", "missing"],
        [NAMES.monitor, "PidMode", `container:${ids.db}`, "mismatch"],
      ]);
      expect((await verify()).rows.find((r) => r.setting === "PidMode")?.wanted).toBe(`container:<id of ${NAMES.app}> (missing)`);
    } finally {
      await remove("monitor");
      await replace("app");
      await replace("monitor");
    }
  });

  describe("with systemd slices enabled (cgroupfs driver here): CgroupParent", () => {
    // The stack's own parent slice, <namePrefix>.slice: mgv-<pid>.slice, which systemd's dash rule puts in
    // mgv.slice. So the cgroups made here are no one else's, and only ours are removed.
    const own = `/mgv.slice/${PREFIX}.slice`;
    let slicedFile: string;

    beforeAll(() => {
      slicedFile = writeStackFile(dir, {
        "metamcp-guard:host": { slices: { enabled: true, cgroupDriver: "cgroupfs" }, ssh: { host: "example.internal", hostKey: TEST_HOST_KEY }, keeper: { enabled: false } },
      });
    });

    afterAll(async () => {
      await replace("app");
      removeCgroupDirs(own);
      removeCgroupDirs("/mgv.slice", { recursive: false });
    });

    it("a container outside its slice is reported; inside it passes and the kernel is read from the nested cgroup", async () => {
      expect(problems(await verify(slicedFile)).filter(([name]) => name === NAMES.app)).toEqual([
        [NAMES.app, "CgroupParent", "(none)", "mismatch"],
      ]);
      const body = devBody("app", image);
      body.HostConfig.CgroupParent = `${own}/${PREFIX}-app.slice`;
      await replace("app", body);
      const report = await verify(slicedFile);
      expect(problems(report).filter(([name]) => name === NAMES.app)).toEqual([]);
      expect(await kernelFile(ids.app!)).toContain(`${own}/${PREFIX}-app.slice/`);
    });
  });

  describe("the CLI (npm run verify)", () => {
    const cli = (...args: string[]) => run("npm", ["run", "-s", "verify", "--", ...args]);

    it("exit 0 and the table when all is in force; --json says the same", async () => {
      const table = await cli(STACK, "--config-file", stackFile);
      expect(table.stderr).toBe("");
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^container\s+setting\s+wanted\s+in force\s+ok$/m);
      expect(table.stdout).toContain(`OK: stack ${STACK} on ${HOST} is in force as configured.`);
      const json = await cli(STACK, "--config-file", stackFile, "--json");
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ stack: STACK, ok: true, kernelReadable: true });
    });

    it("exit 1 on a difference, which --json names", async () => {
      await docker("update", "--cpus", "2", ids.app!);
      try {
        const json = await cli(STACK, "--config-file", stackFile, "--json");
        expect(json.code).toBe(1);
        const report = JSON.parse(json.stdout) as VerifyReport;
        expect(problems(report)).toEqual([
          [NAMES.app, "NanoCpus", "2 CPUs", "mismatch"],
          [NAMES.app, "cpu.max (kernel)", "2 CPUs", "mismatch"],
        ]);
        const table = await cli(STACK, "--config-file", stackFile);
        expect(table.code).toBe(1);
        expect(table.stdout).toMatch(new RegExp(`^${NAMES.app}\\s+NanoCpus\\s+1 CPU\\s+2 CPUs\\s+MISMATCH$`, "m"));
      } finally {
        await docker("update", "--cpus", "1", ids.app!);
      }
    });

    it("exit 2 with a clear message: unknown stack, unreachable host, no stack named", async () => {
      const unknown = await cli("no-such-stack");
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/^verify: unknown stack "no-such-stack": there is no .*Pulumi\.no-such-stack\.yaml; stacks here: .*dev/);
      const unreachable = await cli(STACK, "--config-file", stackFile, "--host", "unix:///nonexistent/docker.sock", "--json");
      expect(unreachable.code).toBe(2);
      expect(unreachable.stderr).toMatch(/cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock .*ENOENT/);
      expect(JSON.parse(unreachable.stdout)).toMatchObject({ stack: STACK, ok: false, error: expect.stringMatching(/cannot reach/) });
      const usage = await cli();
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/name the stack to verify/);
    });
  });
});

/**
 * The container's pids.max file, found here without verify's code: the pids line of its
 * process's /proc/<pid>/cgroup (cgroup v1, as on this machine) or the unified line (v2).
 */
async function kernelFile(id: string): Promise<string> {
  const pid = await docker("inspect", "-f", "{{.State.Pid}}", id);
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((line) => line.split(":")[1]?.split(",").includes("pids"));
  if (v1) return `/sys/fs/cgroup/pids${v1.split(":")[2]}/pids.max`;
  return `/sys/fs/cgroup${lines.find((line) => line.startsWith("0::"))!.slice(3)}/pids.max`;
}

/** Removes the (empty) cgroup directories the cgroupfs driver made for our slice, in every v1 hierarchy. */
function removeCgroupDirs(top: string, { recursive = true } = {}): void {
  for (const hierarchy of existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : []) {
    const root = join("/sys/fs/cgroup", hierarchy, top);
    if (!existsSync(root)) continue;
    const removeTree = (dir: string) => {
      if (recursive) for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeTree(join(dir, entry.name));
      try {
        rmdirSync(dir);
      } catch {
        // still in use or not ours to remove: leave it
      }
    };
    removeTree(root);
  }
}
