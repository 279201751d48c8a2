/** The MetaMCP container, as each real stack file declares it under mocks. */
import { beforeAll, describe, expect, it } from "vitest";
import { readinessEnv } from "../../infra/components/externalDatabase";
import { declareStack, isSecretValue, named, unwrapSecret, type DeclaredStack, type RecordedResource } from "../support/mocks";
import { STACK_NAMES, STACKS } from "./expectations";

describe.each(STACK_NAMES)("MetaMCP container (%s)", (stack) => {
  const want = STACKS[stack];
  let declared: DeclaredStack;
  let container: RecordedResource["inputs"];

  beforeAll(async () => {
    declared = await declareStack(stack);
    container = named(declared.resources, "metamcp-container").inputs;
  });

  it("has the memory cap in MiB", () => {
    expect(container.memory).toBe(want.app.memoryMiB);
  });

  it("has swap disabled: memorySwap set and equal to memory", () => {
    expect(container.memorySwap).toBe(container.memory);
  });

  it("has the CPU cap", () => {
    expect(container.cpus).toBe(want.app.cpus);
  });

  it("gets 30 s to stop its backend and frontend, on docker stop and on replacement", () => {
    expect({ stopTimeout: container.stopTimeout, destroyGraceSeconds: container.destroyGraceSeconds }).toEqual({ stopTimeout: 30, destroyGraceSeconds: 30 });
  });

  it("runs tini as PID 1 to reap zombies", () => {
    expect(container.init).toBe(true);
  });

  it("has a restart policy that brings it back", () => {
    expect(container.restart).toBe("unless-stopped");
  });

  it("checks health on /health with Node's own fetch", () => {
    expect(container.healthcheck.tests.join(" ")).toContain("http://localhost:12008/health");
  });

  it("rotates its json-file logs", () => {
    expect({ driver: container.logDriver, opts: container.logOpts }).toEqual({ driver: "json-file", opts: want.logs });
  });

  it("cannot gain privileges", () => {
    expect(container.securityOpts).toEqual(["no-new-privileges:true"]);
  });

  it("publishes no port: the session guard in front of it does", () => {
    expect(container.ports).toEqual([]);
  });

  it("is labelled with its stack and role", () => {
    expect(container.labels).toEqual(
      expect.arrayContaining([
        { label: "metamcp-guard.stack", value: stack },
        { label: "metamcp-guard.role", value: "app" },
      ]),
    );
  });

  it("runs the pulled image by id, so a new image replaces the container", () => {
    expect(container.image).toBe("sha256:metamcp-image");
  });

  it("keeps the pulled image on the host", () => {
    expect(named(declared.resources, "metamcp-image").inputs.keepLocally).toBe(true);
  });

  it("joins the stack's networks", () => {
    expect(container.networksAdvanced.map((n: { name: string }) => n.name)).toEqual([
      `metamcp-${stack}-frontend`,
      `metamcp-${stack}-backend`,
    ]);
  });

  it("gets its PID cap from a PID-limit resource attached to its container id", () => {
    expect(named(declared.resources, "metamcp-pids").inputs).toMatchObject({
      containerId: "metamcp-container-id",
      limit: want.app.pids,
    });
  });
});

describe("MetaMCP with an external database", () => {
  let envs: unknown;

  beforeAll(async () => {
    const declared = await declareStack("dev", {
      "metamcp-guard:database": { mode: "external" },
      "metamcp-guard:postgresPassword": undefined,
      "metamcp-guard:databaseUrl": "postgresql://app:s3cret-pass@db.example.com:6432/metamcp",
    });
    envs = named(declared.resources, "metamcp-container").inputs.envs;
  });

  const readiness = () => unwrapSecret<string[]>(envs).filter((e) => /^POSTGRES_(HOST|PORT|USER)=/.test(e));

  it("gets the host, port and user its entrypoint's pg_isready waits for, from the URL", () => {
    expect(readiness().sort()).toEqual(["POSTGRES_HOST=db.example.com", "POSTGRES_PORT=6432", "POSTGRES_USER=app"]);
  });

  it("keeps its environment secret, as these come from the database URL", () => {
    expect(isSecretValue(envs)).toBe(true);
  });

  it("never puts the password in them", () => {
    expect(readiness().join(" ")).not.toContain("s3cret-pass");
  });
});

describe("readinessEnv", () => {
  it.each([
    ["postgresql://app:pw@db:5432/x", { POSTGRES_HOST: "db", POSTGRES_PORT: "5432", POSTGRES_USER: "app" }],
    ["postgres://db.example.com/x", { POSTGRES_HOST: "db.example.com", POSTGRES_PORT: "5432", POSTGRES_USER: "postgres" }],
    ["postgresql://us%40er@[::1]:6543/x", { POSTGRES_HOST: "::1", POSTGRES_PORT: "6543", POSTGRES_USER: "us@er" }],
  ])("%s", (url, want) => {
    expect(readinessEnv(url)).toEqual(want);
  });
});
