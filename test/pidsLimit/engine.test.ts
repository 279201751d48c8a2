// The PidsLimit provider's functions against a real Docker engine: apply, read back, detect a hand edit,
// re-apply, container gone, delete, and the kernel refusing forks past the cap.
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
import { describeWithDocker, docker, type DockerCliError, removeTestContainers, runTestContainer, useEngineOverTcp } from "../support/docker";
import { busyboxImage } from "../support/images";

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

describeWithDocker("PidsLimit provider on a real engine", () => {
  let image: string;
  let id: string;

  beforeAll(async () => {
    image = await busyboxImage();
    id = await runTestContainer("--network", "none", image, "sleep", "3600");
  });
  afterAll(removeTestContainers);

  it("the engine speaks API >= 1.40", async () => {
    expect(await checkApiVersion(HOST)).toMatch(/^1\.(4\d|[5-9]\d)$/);
  });

  it("create applies the limit and reports the value in force", async () => {
    const result = await provider.create({ dockerHost: HOST, containerId: id, limit: 20 });
    expect(result).toEqual({ id, outs: { dockerHost: HOST, containerId: id, limit: 20 } });
    expect(await inspectPidsLimit(id)).toBe("20");
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

  it("read returns the value in force; a hand edit shows as drift that diff turns into an update", async () => {
    expect(await provider.read!(id, { dockerHost: HOST, containerId: id, limit: 20 })).toEqual({
      id,
      props: { dockerHost: HOST, containerId: id, limit: 20 },
    });
    await docker("update", "--pids-limit", "500", id);
    const refreshed = await provider.read!(id, { dockerHost: HOST, containerId: id, limit: 20 });
    expect(refreshed.props?.limit).toBe(500);
    const declared = { dockerHost: HOST, containerId: id, limit: 20 };
    expect(diffPidsLimit(refreshed.props!, declared)).toMatchObject({ changes: true, replaces: [] });
  });

  it("update re-applies the declared limit", async () => {
    const result = await provider.update!(id, { dockerHost: HOST, containerId: id, limit: 500 }, {
      dockerHost: HOST,
      containerId: id,
      limit: 20,
    });
    expect(result.outs).toEqual({ dockerHost: HOST, containerId: id, limit: 20 });
    expect(await inspectPidsLimit(id)).toBe("20");
  });

  it("delete lifts the cap and leaves the container running", async () => {
    await provider.delete!(id, { dockerHost: HOST, containerId: id, limit: 20 });
    expect(await getPidsLimit(HOST, id)).toBe(-1);
    expect(await docker("inspect", "-f", "{{.State.Running}}", id)).toBe("true");
  });

  it("container gone: read reports the resource gone, delete succeeds, direct calls say not found", async () => {
    const gone = await runTestContainer("--network", "none", image, "sleep", "3600");
    await applyPidsLimit(HOST, gone, 30);
    await docker("rm", "-f", gone);
    expect(await provider.read!(gone, { dockerHost: HOST, containerId: gone, limit: 30 })).toEqual({});
    await expect(provider.delete!(gone, { dockerHost: HOST, containerId: gone, limit: 30 })).resolves.toBeUndefined();
    await expect(getPidsLimit(HOST, gone)).rejects.toMatchObject({ code: "CONTAINER_NOT_FOUND", status: 404 });
    await expect(setPidsLimit(HOST, gone, 5)).rejects.toThrow(`container ${gone} not found on ${HOST}`);
  });

  it("create on a missing container fails with the recognisable not-found error", async () => {
    await expect(provider.create({ dockerHost: HOST, containerId: "no-such-container-mmg", limit: 10 })).rejects.toMatchObject({
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
  /** Serves `routes["METHOD /path"]` as JSON; anything else is a 404. Returns its tcp:// host. */
  async function fakeEngine(routes: Record<string, [number, string]>): Promise<{ host: string; close(): void }> {
    const server = http.createServer((req, res) => {
      const [status, body] = routes[`${req.method} ${req.url}`] ?? [404, '{"message":"page not found"}'];
      res.writeHead(status, { "Content-Type": "application/json" }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { host: `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () => server.close() };
  }

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
