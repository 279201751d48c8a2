// execInContainer against a real Docker engine: stdin in (closed after it), stdout and stderr apart, the exit code,
// per-exec environment, and the error paths (no such command, container stopped, gone before or during the run),
// over the unix socket and over tcp; plus an engine that upgrades and then goes silent.
import * as http from "node:http";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execInContainer } from "../../infra/dockerEngine/exec";
import { describeWithDocker, docker, removeTestContainers, runTestContainer, useEngineOverTcp } from "../support/docker";
import { busyboxImage } from "../support/images";

const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";

describeWithDocker("execInContainer on a real engine", () => {
  let image: string;
  let id: string;

  beforeAll(async () => {
    image = await busyboxImage();
    id = await runTestContainer("--network", "none", image, "sleep", "3600");
  });
  afterAll(removeTestContainers);

  it("feeds stdin, closes it, and returns stdout, stderr and the exit code apart", async () => {
    const result = await execInContainer(HOST, id, ["sh", "-c", "cat; echo oops >&2; exit 3"], { stdin: "line 1\nline 2\n" });
    expect(result).toEqual({ exitCode: 3, stdout: "line 1\nline 2\n", stderr: "oops\n" });
  });

  it("a large stdin arrives whole and a large output comes back whole", async () => {
    const input = "0123456789abcdef".repeat(32 * 1024); // 512 KiB
    const counted = await execInContainer(HOST, id, ["wc", "-c"], { stdin: input });
    expect(counted.stdout.trim()).toBe(String(input.length));
    const echoed = await execInContainer(HOST, id, ["cat"], { stdin: input });
    expect(echoed.stdout.length).toBe(input.length);
    expect(echoed.stdout === input).toBe(true);
  });

  it("no stdin is an empty stdin (the process sees EOF at once)", async () => {
    expect(await execInContainer(HOST, id, ["cat"])).toEqual({ exitCode: 0, stdout: "", stderr: "" });
  });

  it("env entries reach this process only, with their spaces and quotes intact", async () => {
    const result = await execInContainer(HOST, id, ["sh", "-c", 'printf "%s" "$GREETING"'], { env: ["GREETING=it's a \"test\""] });
    expect(result.stdout).toBe('it\'s a "test"');
    expect((await execInContainer(HOST, id, ["sh", "-c", 'printf "%s" "$GREETING"'])).stdout).toBe("");
  });

  it("a command that does not exist is exit 126 or 127 with the engine's message, not a rejection", async () => {
    const result = await execInContainer(HOST, id, ["no-such-command-mmg"]);
    expect([126, 127]).toContain(result.exitCode);
    expect(result.stdout + result.stderr).toMatch(/no-such-command-mmg/);
  });

  it("a command killed by a signal in a container that keeps running reports the signal's exit code", async () => {
    expect(await execInContainer(HOST, id, ["sh", "-c", "kill -9 $$"])).toEqual({ exitCode: 137, stdout: "", stderr: "" });
  });

  it("a stopped container is CONTAINER_NOT_RUNNING", async () => {
    const stopped = await runTestContainer("--network", "none", image, "sleep", "3600");
    await docker("stop", "-t", "0", stopped);
    await expect(execInContainer(HOST, stopped, ["true"])).rejects.toMatchObject({
      code: "CONTAINER_NOT_RUNNING",
      message: expect.stringContaining(`container ${stopped} on ${HOST} is not running`),
    });
  });

  it("a container that does not exist is CONTAINER_NOT_FOUND", async () => {
    await expect(execInContainer(HOST, "no-such-container-mmg", ["true"])).rejects.toMatchObject({
      code: "CONTAINER_NOT_FOUND",
      message: `container no-such-container-mmg not found on ${HOST}`,
    });
  });

  it("a container removed while the command runs is reported as such, not as the kill signal's exit code", async () => {
    const doomed = await runTestContainer("--network", "none", image, "sleep", "3600");
    // The outcome is taken at once: the exec may reject while `docker rm -f` is still returning, and a
    // rejection with no handler yet is an unhandled error that fails the run (it did, in a loaded CI run).
    const outcome = execInContainer(HOST, doomed, ["sleep", "30"]).then(
      (result) => result,
      (e: Error & { code?: string }) => e,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await docker("rm", "-f", doomed);
    const err = await outcome;
    // Gone or still being removed, depending on how fast the engine is: both say the container ended.
    expect(err).toMatchObject({ code: expect.stringMatching(/^CONTAINER_NOT_(FOUND|RUNNING)$/) });
    expect((err as Error).message).toMatch(new RegExp(`container ${doomed} on .* (went away|stopped) while sleep ran`));
  });

  describe("tcp:// transport", () => {
    // The engine listens on a unix socket only; a 127.0.0.1 forwarder gives us a real engine over tcp.
    const tcpHost = useEngineOverTcp(HOST);

    it("stdin, output and exit code over tcp", async () => {
      expect(await execInContainer(tcpHost(), id, ["sh", "-c", "cat; exit 7"], { stdin: "via tcp" })).toEqual({
        exitCode: 7,
        stdout: "via tcp",
        stderr: "",
      });
    });
  });
});

describe("an engine that upgrades the exec and then goes silent (a fake engine on 127.0.0.1)", () => {
  it("times out naming the host instead of hanging", async () => {
    const server = http.createServer((req, res) => {
      if (req.method === "POST" && req.url === "/containers/c/exec") res.writeHead(201, { "Content-Type": "application/json" }).end('{"Id":"e1"}');
      else res.writeHead(404).end('{"message":"page not found"}');
    });
    server.on("upgrade", (_req, socket: net.Socket) => {
      socket.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
      socket.on("error", () => undefined); // then never a byte more, never closed
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const host = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      await expect(execInContainer(host, "c", ["true"], { timeoutMs: 400 })).rejects.toMatchObject({
        code: "UNREACHABLE",
        message: expect.stringMatching(new RegExp(`cannot reach the Docker engine at ${host} \\(POST /exec/e1/start\\): no answer within 400 ms`)),
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
