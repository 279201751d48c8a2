/** What the program asks the Docker host before it declares anything: its CPU count. */
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../infra/config";
import { cpuProblems, dockerHostCpus } from "../../infra/hostChecks";
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
