/** Production runs no container the pack cannot judge: services, plugins, commands that start one. */
import { describe, expect, it } from "vitest";
import { DOCKER_PLUGIN, DOCKER_SERVICE, LOCAL_COMMAND, REMOTE_COMMAND } from "../../policy/resources";
import { containerStarterIn, prodNoUnjudgedWorkloads } from "../../policy/workloads";
import { declareStack } from "../support/mocks";
import { fromDeclared, resource, UNKNOWN_STRING, validateStack } from "./support/harness";
import { container, productionContainer, remoteImage } from "./support/fixtures";

const ESCAPE = "docker run -d --privileged -v /var/run/docker.sock:/var/run/docker.sock alpine sleep 1d";

describe("prod-no-unjudged-workloads", () => {
  it.each([
    [DOCKER_SERVICE, { name: "escape", taskSpec: { containerSpec: { image: "alpine", mounts: [{ type: "bind", source: "/var/run/docker.sock", target: "/s" }] } } }, "is a Swarm service"],
    [DOCKER_PLUGIN, { name: "vieux/sshfs:latest" }, "is an engine plugin"],
    [LOCAL_COMMAND, { create: ESCAPE }, "runs docker run/create in its create script"],
    [REMOTE_COMMAND, { create: "true", delete: `sh -c '${ESCAPE}'` }, "in its delete script"],
  ])("fails a %s in prod, reported on it", async (type, props, said) => {
    const target = resource({ type, name: "sidecar", stack: "prod", props });
    expect((await validateStack(prodNoUnjudgedWorkloads, [container({ stack: "prod" }), target])).violations).toEqual([
      {
        message: expect.stringMatching(new RegExp(`^sidecar (.* )?${said}.*Declare it as a docker.Container with a PidsLimit, or, once you have reviewed it, name it in prod-no-unjudged-workloads' allowed list\\.$`)),
        urn: target.urn,
      },
    ]);
  });

  it("passes the prod stack's own Commands: the slices and the monitor keeper (docker inspect, docker start)", async () => {
    const declared = await declareStack("prod");
    const commands = declared.resources.filter((r) => r.type === REMOTE_COMMAND);
    // The premise: the keeper's scripts do talk to Docker.
    expect(commands.some((c) => JSON.stringify(c.inputs).includes("docker start"))).toBe(true);
    // The policy applies (prod is production) and finds nothing.
    expect(await validateStack(prodNoUnjudgedWorkloads, fromDeclared(declared.resources, "prod"))).toEqual({ violations: [] });
  });

  it("lets through a resource named in allowed, by name or URN, and still judges the others", async () => {
    const reviewed = resource({ type: LOCAL_COMMAND, name: "reviewed", stack: "prod", props: { create: ESCAPE } });
    const other = resource({ type: LOCAL_COMMAND, name: "other", stack: "prod", props: { create: ESCAPE } });
    const urns = async (allowed: string[]) => (await validateStack(prodNoUnjudgedWorkloads, [reviewed, other], { allowed })).violations.map((v) => v.urn);
    expect([await urns(["reviewed"]), await urns([reviewed.urn]), await urns([])]).toEqual([[other.urn], [other.urn], [reviewed.urn, other.urn]]);
  });

  it("leaves dev alone, whose containers do not say it is production, unless allStacks", async () => {
    const resources = [container(), resource({ type: LOCAL_COMMAND, name: "sidecar", stack: "dev", props: { create: ESCAPE } })];
    expect([
      (await validateStack(prodNoUnjudgedWorkloads, resources)).notApplicable,
      (await validateStack(prodNoUnjudgedWorkloads, resources, { allStacks: true })).violations.length,
    ]).toEqual(["dev is not a production stack", 1]);
  });

  it("judges a stack of any name whose containers carry metamcp-guard.production=true", async () => {
    const sidecar = resource({ type: LOCAL_COMMAND, name: "sidecar", stack: "staging", props: { create: ESCAPE } });
    expect((await validateStack(prodNoUnjudgedWorkloads, [productionContainer("staging"), sidecar])).violations.map((v) => v.urn)).toEqual([sidecar.urn]);
  });

  it("passes commands that start no container, and skips scripts unknown in preview", async () => {
    const quiet = resource({ type: LOCAL_COMMAND, name: "build", stack: "prod", props: { create: "npm run build", update: UNKNOWN_STRING } });
    expect(await validateStack(prodNoUnjudgedWorkloads, [quiet])).toEqual({ violations: [] });
  });

  it("is not applicable to a stack of containers and images only", async () => {
    expect((await validateStack(prodNoUnjudgedWorkloads, [remoteImage("postgres:16"), container({ stack: "prod" })])).notApplicable).toBe(
      "the stack declares no services, plugins or commands",
    );
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
