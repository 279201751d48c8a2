/** Production runs no container the pack cannot judge: services, plugins, commands that start one. */
import { describe, expect, it } from "vitest";
import { DOCKER_PLUGIN, DOCKER_SERVICE, LOCAL_COMMAND, REMOTE_COMMAND } from "../../policy/resources";
import { containerStarterIn, prodNoUnjudgedWorkloads } from "../../policy/workloads";
import { declareStack } from "../support/mocks";
import { plainInputs, resource, UNKNOWN_STRING, validateResource } from "./support/harness";
import { remoteImage } from "./support/fixtures";

const ESCAPE = "docker run -d --privileged -v /var/run/docker.sock:/var/run/docker.sock alpine sleep 1d";
const messages = async (outcome: Promise<{ violations: { message: string }[] }>) => (await outcome).violations.map((v) => v.message);

describe("prod-no-unjudged-workloads", () => {
  it.each([
    [DOCKER_SERVICE, { name: "escape", taskSpec: { containerSpec: { image: "alpine", mounts: [{ type: "bind", source: "/var/run/docker.sock", target: "/s" }] } } }, "is a Swarm service"],
    [DOCKER_PLUGIN, { name: "vieux/sshfs:latest" }, "is an engine plugin"],
    [LOCAL_COMMAND, { create: ESCAPE }, "runs docker run/create in its create script"],
    [REMOTE_COMMAND, { create: "true", delete: `sh -c '${ESCAPE}'` }, "in its delete script"],
  ])("fails a %s in prod", async (type, props, said) => {
    const target = resource({ type, name: "sidecar", stack: "prod", props });
    expect(await messages(validateResource(prodNoUnjudgedWorkloads, target))).toEqual([
      expect.stringMatching(new RegExp(`^sidecar (.* )?${said}.*Declare it as a docker.Container with a PidsLimit, or, once you have reviewed it, name it in prod-no-unjudged-workloads' allowed list\\.$`)),
    ]);
  });

  it("passes the prod stack's own Commands: the slices and the monitor keeper (docker inspect, docker start)", async () => {
    const declared = await declareStack("prod");
    const commands = declared.resources.filter((r) => r.type === REMOTE_COMMAND);
    // The premise: the keeper's scripts do talk to Docker.
    expect(commands.some((c) => JSON.stringify(c.inputs).includes("docker start"))).toBe(true);
    const outcomes = await Promise.all(commands.map((c) => validateResource(prodNoUnjudgedWorkloads, resource({ type: c.type, name: c.name, stack: "prod", props: plainInputs(c.inputs) }))));
    expect(outcomes.flatMap((o) => o.violations)).toEqual([]);
  });

  it("lets through a resource named in allowed, by name or URN", async () => {
    const target = resource({ type: LOCAL_COMMAND, name: "reviewed", stack: "prod", props: { create: ESCAPE } });
    expect([
      (await validateResource(prodNoUnjudgedWorkloads, target, { allowed: ["reviewed"] })).notApplicable,
      (await validateResource(prodNoUnjudgedWorkloads, target, { allowed: [target.urn] })).notApplicable,
    ]).toEqual(["reviewed is allowed by this policy's config", "reviewed is allowed by this policy's config"]);
  });

  it("leaves dev alone unless allStacks", async () => {
    const target = resource({ type: LOCAL_COMMAND, name: "sidecar", stack: "dev", props: { create: ESCAPE } });
    expect([
      (await validateResource(prodNoUnjudgedWorkloads, target)).notApplicable,
      (await messages(validateResource(prodNoUnjudgedWorkloads, target, { allStacks: true }))).length,
    ]).toEqual(["dev is not a production stack", 1]);
  });

  it("passes commands that start no container, and skips scripts unknown in preview", async () => {
    const quiet = resource({ type: LOCAL_COMMAND, name: "build", stack: "prod", props: { create: "npm run build", update: UNKNOWN_STRING } });
    expect(await validateResource(prodNoUnjudgedWorkloads, quiet)).toEqual({ violations: [] });
  });

  it("is not applicable to containers and images", async () => {
    expect((await validateResource(prodNoUnjudgedWorkloads, remoteImage("postgres:16"))).notApplicable).toBe("applies to services, plugins and commands only");
  });
});

describe("what starts a container", () => {
  it.each([
    ["docker run --rm alpine", "docker run/create"],
    ["docker -H ssh://deploy@h --context=x container create alpine", "docker run/create"],
    ["sudo docker update --pids-limit -1 metamcp-prod", "docker update"],
    ["docker exec -u 0 --privileged metamcp-prod sh", "docker exec --privileged"],
    ["docker compose up -d", "docker service/stack/compose/plugin"],
    ["docker service create --name x alpine", "docker service/stack/compose/plugin"],
    ["docker-compose up -d", "docker-compose"],
    ["podman run --rm alpine", "podman/nerdctl run/create"],
    ["nerdctl --namespace k8s.io run alpine", "podman/nerdctl run/create"],
    ["ctr -n moby run docker.io/library/alpine:latest x", "ctr"],
    ["runc run x", "crictl/runc/systemd-nspawn"],
    ["curl --unix-socket /var/run/docker.sock -X POST http://d/containers/create", "the engine's API socket"],
    ["sh -c 'docker '\\''run'\\'' alpine'", "docker run/create"],
  ])("%s", (script, what) => {
    expect(containerStarterIn(script)).toEqual(expect.stringContaining(what));
  });

  it.each([
    'docker inspect --type container -f "{{.State.Status}}" metamcp-prod-monitor',
    "docker start metamcp-prod-monitor",
    "docker exec metamcp-prod-postgres pg_isready",
    "docker logs metamcp-prod --since 5m",
    "systemctl daemon-reload",
    "echo the Docker engine restarted",
  ])("not: %s", (script) => {
    expect(containerStarterIn(script)).toBeUndefined();
  });
});
