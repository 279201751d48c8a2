/** What the program asks the Docker host before it declares anything: its CPU count. */
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../infra/config";
import { checkSshClient, cpuProblems, dockerHostCpus, KNOWN_HOSTS_COMMAND_PROBE, sshClientProblem } from "../../infra/hostChecks";
import { describeWithDocker, docker } from "../support/docker";
import { rawStackConfig } from "../support/stackFiles";

const prod = parseStackConfig(rawStackConfig("prod")).config;

describe("cpuProblems", () => {
  it.each<[string, number, string[]]>([
    ["a host with room for every cap", 8, []],
    ["a host with exactly MetaMCP's 2 CPUs", 2, []],
    ["a one-CPU host under prod's 2-CPU MetaMCP", 1, ["app.limits.cpus"]],
  ])("%s", (_label, hostCpus, keys) => {
    expect(cpuProblems(prod, hostCpus).map((p) => p.key)).toEqual(keys);
  });

  it("says the cap, the host's CPUs and what is allowed", () => {
    expect(cpuProblems(prod, 1)[0].message).toBe("2 is more than the Docker host has (1 CPU); allowed: 0.01 to 1");
  });
});

describeWithDocker("dockerHostCpus on a real engine", () => {
  it("reads the engine's own CPU count", async () => {
    const engineSays = Number(await docker("info", "--format", "{{.NCPU}}"));
    expect(await dockerHostCpus(process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock")).toBe(engineSays);
  });

  it("answers undefined, not an error, when nothing listens", async () => {
    expect(await dockerHostCpus("unix:///nonexistent/docker.sock", undefined, 2_000)).toBeUndefined();
  });
});

describe("sshClientProblem: this machine's ssh must pin the Docker provider's host key (OpenSSH 8.5+)", () => {
  it.each<[string, { code: number; stderr: string }, RegExp | undefined]>([
    ["a client that takes KnownHostsCommand", { code: 0, stderr: "" }, undefined],
    ["OpenSSH before 8.5", { code: 255, stderr: "command-line line 0: Bad configuration option: knownhostscommand" }, /this machine's ssh is older than OpenSSH 8.5/],
    ["no ssh at all", { code: 255, stderr: "spawn ssh ENOENT" }, /there is no ssh client on this machine/],
  ])("%s", (_label, probe, message) => {
    const problem = sshClientProblem({ stdout: "", ...probe });
    if (message === undefined) expect(problem).toBeUndefined();
    else expect(problem).toEqual({ key: "dockerHost", message: expect.stringMatching(message) });
  });

  it("this machine's own ssh passes the probe, which connects nowhere", async () => {
    expect(KNOWN_HOSTS_COMMAND_PROBE[0]).toBe("-G");
    expect(await checkSshClient()).toBeUndefined();
  });
});
