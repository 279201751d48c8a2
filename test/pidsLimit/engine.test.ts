// The PidsLimit provider's functions against a real Docker engine: cap a created container then start it,
// read back, detect a hand edit or a stopped container, re-apply, Docker's restarts, container gone, a delete
// that leaves the cap alone, and the kernel refusing forks past the cap.
import * as http from "node:http";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyPidsLimit,
  checkApiVersion,
  getPidsLimit,
  setPidsLimit,
} from "../../infra/pidsLimit/dockerApi";
import { diffPidsLimit, pidsLimitProvider as provider } from "../../infra/pidsLimit/provider";
import { describeWithDocker, docker, type DockerCliError, removeTestContainers, runTestContainer, testLabelArgs, useEngineOverTcp } from "../support/docker";
import { busyboxImage } from "../support/images";
import { waitUntil } from "../support/wait";
import { FIRST_PROCESS_PIDS_MAX } from "../load/support/programs";

/** The engine the docker CLI talks to. */
const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";

async function inspectPidsLimit(id: string): Promise<string> {
  return docker("inspect", "-f", "{{.HostConfig.PidsLimit}}", id);
}

/**
 * Runs a shell in the container that starts `count` background sleeps. Resolves to the shell's stderr: the
 * busybox shell reports a failed fork there ("can't fork") and stops, which makes `docker exec` fail.
 */
async function spawnInside(id: string, count: number): Promise<string> {
  const script = `i=0; while [ $i -lt ${count} ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; echo spawned >&2`;
  return docker("exec", id, "sh", "-c", script).then(
    () => "spawned",
    (err: DockerCliError) => err.stderr,
  );
}

const MIB = 1024 * 1024;
/** What the stack declares for a container: the cap, its memory (no swap), and that it must run. */
const DECLARED = { limit: 20, memory: 64 * MIB, memorySwap: 64 * MIB, running: true };

describeWithDocker("PidsLimit provider on a real engine", () => {
  let image: string;
  let id: string;
  const inputs = () => ({ dockerHost: HOST, containerId: id, ...DECLARED });

  beforeAll(async () => {
    image = await busyboxImage();
    // Created, not started, as the stack's docker.Container (start: false); its command prints the
    // pids.max its first process finds.
    id = await docker("create", ...testLabelArgs(), "--network", "none", "--memory", "64m", "--memory-swap", "64m", image,
      "sh", "-c", `${FIRST_PROCESS_PIDS_MAX}; exec sleep 3600`);
  });
  afterAll(removeTestContainers);

  it("the engine speaks API >= 1.40", async () => {
    expect(await checkApiVersion(HOST)).toMatch(/^1\.(4\d|[5-9]\d)$/);
  });

  it("create caps the created container, then starts it: its first process already sees the cap", async () => {
    expect(await docker("inspect", "-f", "{{.State.Status}}", id)).toBe("created");
    const result = await provider.create(inputs());
    expect(result).toEqual({ id, outs: inputs() });
    expect(await inspectPidsLimit(id)).toBe("20");
    await waitUntil(async () => (await docker("logs", id)).trim() !== "", 30_000, "the first process to print its pids.max");
    expect((await docker("logs", id)).trim()).toBe("20");
  });

  it("the kernel enforces it: forking past the cap fails with \"can't fork\", and not below it", async () => {
    // Fresh containers: a capped container full of sleeps has no PID left even for the exec that cleans up.
    const capped = await runTestContainer("--network", "none", image, "sleep", "3600");
    const roomy = await runTestContainer("--network", "none", image, "sleep", "3600");
    try {
      await applyPidsLimit(HOST, capped, 20);
      await applyPidsLimit(HOST, roomy, 100);
      expect(await spawnInside(capped, 40)).toMatch(/can't fork/);
      expect(await spawnInside(roomy, 40)).toBe("spawned");
    } finally {
      await docker("rm", "-f", capped, roomy);
    }
  });

  it("read returns the values in force; a hand edit shows as drift that diff turns into an update", async () => {
    const read = await provider.read!(id, inputs());
    expect(read).toEqual({ id, props: inputs() });
    // Refresh of an unchanged container: nothing to do on the next preview.
    expect(diffPidsLimit(read.props!, inputs())).toMatchObject({ changes: false });
    await docker("update", "--pids-limit", "500", id);
    const refreshed = await provider.read!(id, inputs());
    expect(refreshed.props?.limit).toBe(500);
    expect(diffPidsLimit(refreshed.props!, inputs())).toMatchObject({ changes: true, replaces: [] });
  });

  it("update re-applies the declared limit, and memory with memory+swap (swap turned on by hand is off again)", async () => {
    await docker("update", "--memory", "64m", "--memory-swap", "-1", id);
    const drifted = (await provider.read!(id, inputs())).props!;
    expect(drifted.memorySwap).toBe(-1);
    const result = await provider.update!(id, drifted, inputs());
    expect(result.outs).toEqual(inputs());
    expect(await docker("inspect", "-f", "{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}", id)).toBe(
      `20 ${64 * MIB} ${64 * MIB}`,
    );
  });

  it("a container stopped by hand is drift (running false); update starts it again, capped", async () => {
    await docker("stop", "-t", "0", id);
    const refreshed = (await provider.read!(id, inputs())).props!;
    expect(refreshed).toEqual({ ...inputs(), running: false });
    expect(diffPidsLimit(refreshed, inputs())).toMatchObject({ changes: true, replaces: [] });
    const result = await provider.update!(id, refreshed, inputs());
    expect(result.outs).toEqual(inputs());
    expect(await docker("inspect", "-f", "{{.State.Running}}", id)).toBe("true");
    // The restarted first process saw the cap too (its line is appended to the logs).
    await waitUntil(async () => (await docker("logs", id)).trim().split("\n").length === 2, 30_000, "the second run's line");
    expect((await docker("logs", id)).trim().split("\n")).toEqual(["20", "20"]);
  });

  it("Docker's own restarts (restart policy) start the container capped", async () => {
    // Exits 3 after printing, twice; on-failure:2 brings it back each time with the HostConfig it holds.
    const crashing = await docker("create", ...testLabelArgs(), "--network", "none", "--restart", "on-failure:2", image,
      "sh", "-c", `${FIRST_PROCESS_PIDS_MAX}; sleep 1; exit 3`);
    await provider.create({ dockerHost: HOST, containerId: crashing, ...DECLARED, limit: 12 });
    await waitUntil(async () => (await docker("inspect", "-f", "{{.RestartCount}}", crashing)) === "2", 60_000, "two restarts");
    await waitUntil(async () => (await docker("logs", crashing)).trim().split("\n").length === 3, 30_000, "three runs' lines");
    expect((await docker("logs", crashing)).trim().split("\n")).toEqual(["12", "12", "12"]);
  });

  it("delete leaves the cap in force on a container that still exists (a rename, a targeted destroy)", async () => {
    await provider.delete!(id, inputs());
    expect(await getPidsLimit(HOST, id)).toBe(20);
    expect(await docker("inspect", "-f", "{{.State.Running}} {{.HostConfig.Memory}}", id)).toBe(`true ${64 * MIB}`);
  });

  it("container gone: read reports the resource gone, delete succeeds, direct calls say not found", async () => {
    const gone = await runTestContainer("--network", "none", image, "sleep", "3600");
    await applyPidsLimit(HOST, gone, 30);
    await docker("rm", "-f", gone);
    const declared = { dockerHost: HOST, containerId: gone, ...DECLARED };
    expect(await provider.read!(gone, declared)).toEqual({});
    await expect(provider.delete!(gone, declared)).resolves.toBeUndefined();
    await expect(getPidsLimit(HOST, gone)).rejects.toMatchObject({ code: "CONTAINER_NOT_FOUND", status: 404 });
    await expect(setPidsLimit(HOST, gone, 5)).rejects.toThrow(`container ${gone} not found on ${HOST}`);
  });

  it("create on a missing container fails with the recognisable not-found error", async () => {
    await expect(provider.create({ dockerHost: HOST, containerId: "no-such-container-mmg", ...DECLARED })).rejects.toMatchObject({
      code: "CONTAINER_NOT_FOUND",
    });
  });

  describe("tcp:// transport", () => {
    // The engine listens on a unix socket only; a 127.0.0.1 forwarder gives us a real engine over tcp.
    const tcpHost = useEngineOverTcp(HOST);

    it("applies and reads back", async () => {
      expect(await applyPidsLimit(tcpHost(), id, 77)).toBe(77);
      expect(await inspectPidsLimit(id)).toBe("77");
    });
  });
});

describe("unreachable engines (no engine needed)", () => {
  it("connection refused names the host", async () => {
    await expect(getPidsLimit("tcp://127.0.0.1:1", "x")).rejects.toMatchObject({ code: "UNREACHABLE" });
    await expect(getPidsLimit("tcp://127.0.0.1:1", "x")).rejects.toThrow(/tcp:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/);
  });

  it("a missing socket names the socket", async () => {
    await expect(checkApiVersion("unix:///nonexistent/docker.sock")).rejects.toThrow(
      /cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock .*ENOENT/,
    );
  });

  it("a silent engine times out instead of hanging", async () => {
    const silent = net.createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      await expect(getPidsLimit(`tcp://127.0.0.1:${port}`, "x", { timeoutMs: 300 })).rejects.toThrow(/no answer within 300 ms/);
    } finally {
      silent.close();
    }
  });
});

describe("engines that answer wrongly (a fake engine on 127.0.0.1)", () => {
  /**
   * Serves `routes["METHOD /path"]` as JSON; anything else is a 404. Returns its tcp:// host and every
   * request it got, as "METHOD /path body".
   */
  async function fakeEngine(routes: Record<string, [number, string]>): Promise<{ host: string; requests: string[]; close(): void }> {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        requests.push(`${req.method} ${req.url}${body ? ` ${body}` : ""}`);
        const [status, answer] = routes[`${req.method} ${req.url}`] ?? [404, '{"message":"page not found"}'];
        res.writeHead(status, { "Content-Type": "application/json" }).end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { host: `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, requests, close: () => server.close() };
  }

  const VERSION: Record<string, [number, string]> = { "GET /version": [200, '{"ApiVersion":"1.41"}'] };
  const declared = (host: string) => ({ dockerHost: host, containerId: "c", limit: 10, memory: 64 * MIB, memorySwap: 64 * MIB, running: true });

  it("every update carries the memory limits with the cap, and the start comes after it", async () => {
    const engine = await fakeEngine({
      ...VERSION,
      "POST /containers/c/update": [200, '{"Warnings":null}'],
      "GET /containers/c/json": [200, `{"HostConfig":{"PidsLimit":10,"Memory":${64 * MIB},"MemorySwap":${64 * MIB}},"State":{"Running":false}}`],
      "POST /containers/c/start": [204, ""],
    });
    try {
      await provider.create(declared(engine.host));
      expect(engine.requests).toEqual([
        "GET /version",
        `POST /containers/c/update {"PidsLimit":10,"Memory":${64 * MIB},"MemorySwap":${64 * MIB}}`,
        "GET /containers/c/json",
        "POST /containers/c/start",
        "GET /containers/c/json",
      ]);
    } finally {
      engine.close();
    }
  });

  it("a cap that does not stick is an error, and the container is not started", async () => {
    const engine = await fakeEngine({
      ...VERSION,
      "POST /containers/c/update": [200, '{"Warnings":null}'],
      "GET /containers/c/json": [200, '{"HostConfig":{"PidsLimit":null},"State":{"Running":false}}'],
      "POST /containers/c/start": [204, ""],
    });
    try {
      await expect(provider.create(declared(engine.host))).rejects.toMatchObject({ code: "LIMIT_NOT_APPLIED" });
      expect(engine.requests.filter((r) => r.includes("/start"))).toEqual([]);
    } finally {
      engine.close();
    }
  });

  it("delete sends nothing at all to the engine", async () => {
    const engine = await fakeEngine({ ...VERSION });
    try {
      await provider.delete!("c", declared(engine.host));
      expect(engine.requests).toEqual([]);
    } finally {
      engine.close();
    }
  });

  it("an engine older than API 1.40 is refused", async () => {
    const engine = await fakeEngine({ "GET /version": [200, '{"ApiVersion":"1.39"}'] });
    try {
      await expect(applyPidsLimit(engine.host, "c", 10)).rejects.toMatchObject({ code: "API_TOO_OLD" });
      await expect(checkApiVersion(engine.host)).rejects.toThrow(/speaks API 1\.39; setting PidsLimit needs 1\.40/);
    } finally {
      engine.close();
    }
  });

  it("an engine behind TLS gets a hint instead of a bare 400", async () => {
    const engine = await fakeEngine({ "GET /version": [400, "Client sent an HTTP request to an HTTPS server.\n"] });
    try {
      await expect(checkApiVersion(engine.host)).rejects.toThrow(/400 .*expects TLS.*use ssh:\/\//);
    } finally {
      engine.close();
    }
  });

  it("an update that does not stick is an error, not a silent success", async () => {
    const engine = await fakeEngine({
      "GET /version": [200, '{"ApiVersion":"1.41"}'],
      "POST /containers/c/update": [200, '{"Warnings":null}'],
      "GET /containers/c/json": [200, '{"HostConfig":{"PidsLimit":null}}'],
    });
    try {
      await expect(applyPidsLimit(engine.host, "c", 10)).rejects.toMatchObject({ code: "LIMIT_NOT_APPLIED" });
    } finally {
      engine.close();
    }
  });

  it("other engine errors carry the engine's message and status", async () => {
    const engine = await fakeEngine({
      "POST /containers/c/update": [500, '{"message":"cannot set pids limit: cgroup not mounted"}'],
    });
    try {
      await expect(setPidsLimit(engine.host, "c", 10)).rejects.toMatchObject({
        code: "API_ERROR",
        status: 500,
        message: expect.stringContaining("cannot set pids limit: cgroup not mounted"),
      });
    } finally {
      engine.close();
    }
  });
});
