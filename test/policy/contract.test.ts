/**
 * The pack keeps its own copy of the names it keys on, so that it checks the program instead of
 * sharing its code. These tests pin each copy to the program's and the SDKs' own value.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import * as infra from "../../infra/containerSettings";
import { ROLES as HOST_ROLES } from "../../infra/host/names";
import * as pack from "../../policy/resources";
import { policies } from "../../policy/policies";
import { declareStack, ofType } from "../support/mocks";
import { REPO_ROOT } from "../support/stackFiles";

/** The type token a generated resource class carries (not in its public typings). */
const tokenOf = (resourceClass: unknown) => (resourceClass as { __pulumiType: string }).__pulumiType;

describe("the pack's names match the program's", () => {
  it("labels", () => {
    expect({ stack: pack.LABEL_STACK, role: pack.LABEL_ROLE, production: pack.LABEL_PRODUCTION }).toEqual({
      stack: infra.LABEL_STACK,
      role: infra.LABEL_ROLE,
      production: infra.LABEL_PRODUCTION,
    });
  });

  it("roles: every role the program declares", () => {
    expect([...pack.ROLES].sort()).toEqual([...HOST_ROLES].sort());
  });

  it("resource type tokens", () => {
    expect([pack.CONTAINER, pack.REMOTE_IMAGE, pack.BUILT_IMAGE, pack.VOLUME, pack.NETWORK, pack.DOCKER_SERVICE, pack.DOCKER_PLUGIN, pack.REMOTE_COMMAND, pack.LOCAL_COMMAND]).toEqual(
      [docker.Container, docker.RemoteImage, docker.Image, docker.Volume, docker.Network, docker.Service, docker.Plugin, command.remote.Command, command.local.Command].map(tokenOf),
    );
  });

  it("the Docker provider's type token (providers are pulumi:providers:<package>)", async () => {
    expect({ token: `pulumi:providers:${tokenOf(docker.Provider)}`, declared: ofType((await declareStack("dev")).resources, pack.DOCKER_PROVIDER).length }).toEqual({
      token: pack.DOCKER_PROVIDER,
      declared: 1,
    });
  });

  it("the PidsLimit type token", async () => {
    expect(ofType((await declareStack("dev")).resources, pack.PIDS_LIMIT).length).toBeGreaterThan(0);
  });
});

describe("the pack's policies", () => {
  it("have unique names the server accepts", () => {
    const names = policies.map((p) => p.name);
    expect({ unique: new Set(names).size, valid: names.every((n) => /^[a-z0-9-]+$/.test(n) && n !== "all") }).toEqual({ unique: names.length, valid: true });
  });

  it("declare no enforcementLevel in their config schemas (the server refuses to start)", () => {
    expect(policies.filter((p) => p.configSchema?.properties.enforcementLevel).map((p) => p.name)).toEqual([]);
  });

  it("give every knob a default in its schema", () => {
    const missing = policies.flatMap((p) => Object.entries(p.configSchema?.properties ?? {}).filter(([, s]) => typeof s === "object" && s.default === undefined).map(([k]) => `${p.name}.${k}`));
    expect(missing).toEqual([]);
  });
});

describe("the pack's project files", () => {
  const json = (path: string) => JSON.parse(readFileSync(join(REPO_ROOT, path), "utf8"));
  const root = json("package.json");
  const pack = json("policy/package.json");
  const rootRange = (name: string) => root.dependencies[name] ?? root.devDependencies[name];

  it("PulumiPolicy.yaml names the Node.js runtime (the only key the CLI requires)", () => {
    expect(parse(readFileSync(join(REPO_ROOT, "policy", "PulumiPolicy.yaml"), "utf8")).runtime).toBe("nodejs");
  });

  it("package.json has a version (PolicyPack reads it) and a main that exists", () => {
    expect({ version: /^\d+\.\d+\.\d+$/.test(pack.version), main: existsSync(join(REPO_ROOT, "policy", pack.main)) }).toEqual({ version: true, main: true });
  });

  it("depends on the same versions as the project, so the root's node_modules serves it", () => {
    const all = { ...pack.dependencies, ...pack.devDependencies } as Record<string, string>;
    expect(Object.keys(pack.dependencies).sort()).toEqual(["@pulumi/policy", "@pulumi/pulumi"]);
    expect(Object.entries(all).filter(([name, range]) => rootRange(name) !== range)).toEqual([]);
  });
});
