import { describe, expect, it } from "vitest";
import { type ConfigError, parseStackConfig, type StackConfig } from "../../infra/config";
import { childSliceName, sliceCgroupPath } from "../../infra/host/names";
import { TEST_HOST_KEY } from "../support/stackFiles";
import { hostSchema } from "../../infra/config/schema/host";
import type { SliceSettings } from "../../infra/host/plan";

// A StackConfig is what the stack passes to HostSlices: this line fails to compile if they part ways.
export const stackConfigIsSliceSettings = (config: StackConfig): SliceSettings => config;

const parse = (input: unknown) => hostSchema.safeParse(input);
const KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

describe("host settings", () => {
  it("defaults to slices off, the systemd driver and 10% headroom, and leaves the parent to the stack's prefix", () => {
    expect(parse({}).data).toEqual({
      slices: { enabled: false, cgroupDriver: "systemd", headroomPercent: 10 },
      keeper: { enabled: false, interval: 10 },
    });
  });

  it("derives the parent slice from the stack: <namePrefix>.slice, which nests in metamcp.slice by systemd's dash rule", () => {
    const parent = (stack: string, values: Record<string, unknown> = {}) =>
      parseStackConfig({ stack, values: { app: { limits: { cpus: 1 } }, ...values }, secretKeys: new Set() }, { requireSecrets: false }).config.host.slices.parent;
    expect([parent("dev"), parent("prod"), parent("staging"), parent("x", { namePrefix: "team_mcp" })]).toEqual([
      "metamcp-dev.slice",
      "metamcp-prod.slice",
      "metamcp-staging.slice",
      "team_mcp.slice",
    ]);
    expect(sliceCgroupPath("metamcp-prod.slice")).toBe("/metamcp.slice/metamcp-prod.slice");
    expect(sliceCgroupPath(childSliceName("metamcp-prod.slice", "app"))).toBe("/metamcp.slice/metamcp-prod.slice/metamcp-prod-app.slice");
    expect(parent("prod", { host: { slices: { parent: "metamcp-prod-team.slice" } } })).toBe("metamcp-prod-team.slice");
  });

  it("refuses a default prefix that the stack's name makes invalid, once, before judging slices", () => {
    const problems = (stack: string) => {
      try {
        parseStackConfig({ stack, values: { app: { limits: { cpus: 1 } }, host: { slices: { enabled: true }, ssh: { host: "h", hostKey: TEST_HOST_KEY } } }, secretKeys: new Set() }, { requireSecrets: false });
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems("Prod")).toEqual([expect.stringMatching(/^metamcp-guard:namePrefix is not set, and the stack's name makes the default "metamcp-Prod", which is not a name prefix; set namePrefix: use 2 to 48 lowercase/)]);
    expect(problems("a--b")).toHaveLength(1);
    expect(problems("prod")).toEqual([]);
  });

  it("turns the keeper on by default only where there is a host to push to", () => {
    expect(parse({ ssh: { host: "h" } }).data?.keeper).toEqual({ enabled: true, interval: 10 });
    expect(parse({ ssh: { host: "h" }, keeper: { enabled: false } }).data?.keeper.enabled).toBe(false);
    expect(parse({ keeper: { enabled: "true" } }).data?.keeper.enabled).toBe(true);
  });

  it("takes the keeper's interval in whole seconds or minutes, from 2s to 1m", () => {
    expect(parse({ keeper: { interval: "5s" } }).data?.keeper.interval).toBe(5);
    expect(parse({ keeper: { interval: "1m" } }).data?.keeper.interval).toBe(60);
    for (const bad of ["1s", "2m", "10", "500ms", "ten"]) {
      expect(parse({ keeper: { interval: bad } }).error?.issues[0].message, bad).toMatch(/not an interval from 2s to 1m/);
    }
  });

  it("accepts slice names systemd nests predictably and refuses others", () => {
    for (const good of ["metamcp.slice", "team-metamcp.slice", "a_b.c.slice"]) expect(parse({ slices: { parent: good } }).success, good).toBe(true);
    for (const bad of ["metamcp", "-a.slice", "a-.slice", "a--b.slice", "a\\x2db.slice", "a b.slice", "a.service"]) {
      expect(parse({ slices: { parent: bad } }).error?.issues[0].message, bad).toMatch(/not a slice unit name/);
    }
  });

  it("keeps a host key as `type base64`, from a bare key or a known_hosts or keyscan line", () => {
    for (const line of [`ssh-ed25519 ${KEY}`, `ssh-ed25519 ${KEY} root@box`, `[h]:2222 ssh-ed25519 ${KEY}`, `h.example ssh-ed25519 ${KEY}\n`]) {
      expect(parse({ ssh: { host: "h", hostKey: line } }).data?.ssh?.hostKey, line).toBe(`ssh-ed25519 ${KEY}`);
    }
    expect(parse({ ssh: { host: "h", hostKey: "SHA256:abcdef" } }).error?.issues[0].message).toMatch(/not an SSH public host key/);
  });

  it("refuses a host that ssh would read as an option", () => {
    expect(parse({ ssh: { host: "-oProxyCommand=touch /tmp/x" } }).error?.issues[0].message).toBe(`"-oProxyCommand=touch /tmp/x" starts with '-', which ssh reads as an option; write a DNS name or an IP address`);
    expect(parse({ ssh: { host: "-v" } }).success).toBe(false);
  });

  it("refuses a host that is not a name or an address", () => {
    expect(parse({ ssh: { host: "h; rm -rf /" } }).success).toBe(false);
    expect(parse({ ssh: { host: "" } }).success).toBe(false);
    expect(parse({ ssh: { host: "::1" } }).data?.ssh).toEqual({ host: "::1", port: 22, user: "root" });
  });
});
