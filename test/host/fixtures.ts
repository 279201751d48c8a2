/** Settings for the host-slice tests: the prod limits from the operator's write-up. */
import type { SliceSettings } from "../../infra/host/plan";
import type { HostConfig } from "../../infra/config/schema/host";
import { TEST_HOST_KEY } from "../support/stackFiles";

const MIB = 1024 * 1024;

export function sliceSettings(overrides: { host?: Partial<HostConfig["slices"]>; ssh?: Partial<NonNullable<HostConfig["ssh"]>>; dbExternal?: boolean; monitor?: boolean; guard?: boolean; stack?: string; namePrefix?: string } = {}): SliceSettings {
  return {
    stack: overrides.stack ?? "prod",
    // The prefix `metamcp`, whose own parent slice is metamcp.slice (a stack's default is metamcp-<stack>).
    namePrefix: overrides.namePrefix ?? "metamcp",
    host: {
      slices: { enabled: true, parent: "metamcp.slice", cgroupDriver: "systemd", headroomPercent: 10, ...overrides.host },
      // A well-formed key that no host has: these tests never connect.
      ssh: { host: "127.0.0.1", port: 22, user: "root", hostKey: TEST_HOST_KEY, ...overrides.ssh },
      keeper: { enabled: false, interval: 10 },
    },
    app: { limits: { memory: 4096 * MIB, memorySwap: 4096 * MIB, cpus: 2, pids: 100 } },
    database: { mode: overrides.dbExternal ? "external" : "internal", limits: { memory: 1024 * MIB, memorySwap: 1024 * MIB, cpus: 1, pids: 100 } },
    monitor: { enabled: overrides.monitor ?? true, limits: { memory: 128 * MIB, memorySwap: 128 * MIB, cpus: 0.25, pids: 16 } },
    // Off unless asked for, so the sums these tests check stay the write-up's three containers.
    guard: { enabled: overrides.guard ?? false, limits: { memory: 256 * MIB, memorySwap: 256 * MIB, cpus: 0.5, pids: 32 } },
  };
}
