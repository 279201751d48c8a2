/** The session guard: least privilege, a health check, and nothing around it. */
import { describe, expect, it } from "vitest";
import { guardFrontsMetamcp, guardLeastPrivilege, notNonRootUid } from "../../policy/guard";
import { guardHealthcheck, containerInitAndHealthcheck } from "../../policy/health";
import { UNKNOWN_STRING, validateResource, validateStack } from "./support/harness";
import { container, guardResources } from "./support/fixtures";

const messages = async (outcome: Promise<{ violations: { message: string }[] }>) => (await outcome).violations.map((v) => v.message);
const guard = (props = {}) => container({ name: "guard-container", role: "guard", props });

describe("guard-least-privilege", () => {
  it("passes the guard as the stack declares it", async () => {
    expect(await validateResource(guardLeastPrivilege, guard())).toEqual({ violations: [] });
  });

  it.each([
    [{ user: undefined }, "sets no user"],
    [{ user: "0" }, 'has user "0", which is root'],
    [{ user: "0:1001" }, "which is root"],
    [{ user: "node" }, "name a numeric uid"],
    [{ readOnly: false }, "writable root filesystem"],
    [{ readOnly: undefined }, "writable root filesystem"],
    [{ capabilities: undefined }, "keeps Docker's default capabilities"],
    [{ capabilities: { drops: ["NET_RAW"] } }, "keeps Docker's default capabilities"],
    [{ capabilities: { drops: ["ALL"], adds: ["NET_BIND_SERVICE"] } }, "adds NET_BIND_SERVICE; the guard needs none"],
  ])("fails %j", async (props, said) => {
    expect(await messages(validateResource(guardLeastPrivilege, guard(props)))).toEqual([expect.stringContaining(said)]);
  });

  it("is for the guard only", async () => {
    expect((await validateResource(guardLeastPrivilege, container({ props: { user: undefined } }))).notApplicable).toBe("not for app containers");
  });

  it("skips a user unknown during preview", async () => {
    expect(await validateResource(guardLeastPrivilege, guard({ user: UNKNOWN_STRING }))).toEqual({ violations: [] });
  });

  it("reads uids", () => {
    expect(["1001", "1001:1001", "65534:65534", "0", "root", "", "0:0"].map((u) => notNonRootUid(u) === undefined)).toEqual([true, true, true, false, false, false, false]);
  });
});

describe("guard-healthcheck", () => {
  it("passes the guard with a health check, fails it without (mandatory: every request goes through it)", async () => {
    expect({
      level: guardHealthcheck.enforcementLevel,
      with: await messages(validateResource(guardHealthcheck, guard())),
      without: await messages(validateResource(guardHealthcheck, guard({ healthcheck: undefined }))),
    }).toEqual({ level: "mandatory", with: [], without: [expect.stringContaining("is missing a health check")] });
  });

  it("leaves the guard's health check out of the advice (it is mandatory above), but still advises init", async () => {
    const outcome = await messages(validateResource(containerInitAndHealthcheck, guard({ healthcheck: undefined, init: undefined })));
    expect(outcome).toEqual([expect.stringContaining("is missing init: true")]);
  });
});

describe("guard-fronts-metamcp", () => {
  it("passes MetaMCP without ports behind the guard", async () => {
    const app = container({ props: { ports: [] } });
    expect(await validateStack(guardFrontsMetamcp, [app, ...guardResources()])).toEqual({ violations: [] });
  });

  it("fails MetaMCP publishing its own port beside the guard", async () => {
    const app = container({ props: { ports: [{ internal: 12008, external: 12009, ip: "127.0.0.1" }] } });
    expect((await validateStack(guardFrontsMetamcp, [app, ...guardResources()])).violations).toEqual([
      { message: expect.stringContaining("app-container (metamcp-dev) publishes port of its own beside the session guard"), urn: app.urn },
    ]);
  });

  it("fails publishAllPorts beside the guard", async () => {
    const app = container({ props: { publishAllPorts: true } });
    expect(await messages(validateStack(guardFrontsMetamcp, [app, ...guardResources()]))).toEqual([expect.stringContaining("publishAllPorts")]);
  });

  it("does not apply without a guard (MetaMCP publishes its port itself)", async () => {
    const app = container({ props: { ports: [{ internal: 12008, external: 12008 }] } });
    expect((await validateStack(guardFrontsMetamcp, [app])).notApplicable).toBe("the stack runs no session guard");
  });
});
