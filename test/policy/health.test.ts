/** Init and health check: mandatory for MetaMCP (role app), advisory for the others. */
import { describe, expect, it } from "vitest";
import { containerInitAndHealthcheck, metamcpInitAndHealthcheck } from "../../policy/health";
import { validateResource } from "./support/harness";
import { container } from "./support/fixtures";

describe("metamcp-init-and-healthcheck (mandatory)", () => {
  it("is mandatory", () => {
    expect(metamcpInitAndHealthcheck.enforcementLevel).toBe("mandatory");
  });

  it("passes MetaMCP with init and a health check", async () => {
    expect(await validateResource(metamcpInitAndHealthcheck, container())).toEqual({ violations: [] });
  });

  it("fails MetaMCP without init (the shell entrypoint never reaps orphans)", async () => {
    const outcome = await validateResource(metamcpInitAndHealthcheck, container({ props: { init: false } }));
    expect(outcome.violations.map((v) => v.message)).toEqual([expect.stringContaining("is missing init: true")]);
  });

  it.each([[undefined], [{ tests: [] }], [{ tests: ["NONE"] }]])("fails MetaMCP with healthcheck %j", async (healthcheck) => {
    const outcome = await validateResource(metamcpInitAndHealthcheck, container({ props: { healthcheck } }));
    expect(outcome.violations.map((v) => v.message)).toEqual([expect.stringContaining("is missing a health check")]);
  });

  it("leaves the other roles to the advisory policy", async () => {
    const outcome = await validateResource(metamcpInitAndHealthcheck, container({ role: "monitor", props: { init: false } }));
    expect(outcome).toEqual({ violations: [], notApplicable: "not for monitor containers" });
  });
});

describe("container-init-and-healthcheck (advisory)", () => {
  it("is advisory", () => {
    expect(containerInitAndHealthcheck.enforcementLevel).toBe("advisory");
  });

  it("passes Postgres with init and a health check", async () => {
    expect(await validateResource(containerInitAndHealthcheck, container({ role: "db" }))).toEqual({ violations: [] });
  });

  it("advises a monitor without either", async () => {
    const outcome = await validateResource(containerInitAndHealthcheck, container({ role: "monitor", props: { init: undefined, healthcheck: undefined } }));
    expect(outcome.violations).toHaveLength(2);
  });

  it("does not ask for init in a container that joins another's PID namespace (that one's init reaps)", async () => {
    const outcome = await validateResource(containerInitAndHealthcheck, container({ role: "monitor", props: { init: undefined, pidMode: "container:0123abcd" } }));
    expect(outcome).toEqual({ violations: [] });
  });

  it("leaves MetaMCP to the mandatory policy", async () => {
    expect((await validateResource(containerInitAndHealthcheck, container({ props: { init: false } }))).notApplicable).toBe("not for app containers");
  });
});
