import { describe, expect, it } from "vitest";
import type { StackConfig } from "../../infra/config";
import { hostSchema } from "../../infra/config/schema/host";
import type { SliceSettings } from "../../infra/host/plan";

// A StackConfig is what the stack passes to HostSlices: this line fails to compile if they part ways.
export const stackConfigIsSliceSettings = (config: StackConfig): SliceSettings => config;

const parse = (input: unknown) => hostSchema.safeParse(input);
const KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

describe("host settings", () => {
  it("defaults to slices off, metamcp.slice, the systemd driver and 10% headroom", () => {
    expect(parse({}).data).toEqual({
      slices: { enabled: false, parent: "metamcp.slice", cgroupDriver: "systemd", headroomPercent: 10 },
      keeper: { enabled: false, interval: 10 },
    });
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

  it("refuses a host that is not a name or an address", () => {
    expect(parse({ ssh: { host: "h; rm -rf /" } }).success).toBe(false);
    expect(parse({ ssh: { host: "" } }).success).toBe(false);
    expect(parse({ ssh: { host: "::1" } }).data?.ssh).toEqual({ host: "::1", port: 22, user: "root" });
  });
});
