import { describe, expect, it } from "vitest";
import { formatTimespan, parseTimespan } from "../../infra/host/timespan";

// Pairs read from `systemctl show -p CPUQuotaPerSecUSec` (systemd 252) after CPUQuota=<percent>%.
const SEEN_ON_SYSTEMD: Array<[number, string]> = [
  [10_000, "10ms"], // 1%
  [280_000, "280ms"], // 28%
  [1_000_000, "1s"], // 100%
  [1_100_000, "1.100000s"], // 110%
  [2_200_000, "2.200000s"], // 220%
  [10_000_000, "10s"], // 1000%
  [275_000, "275ms"], // 27.5%
  [27_500, "27.500ms"], // 2.75%
  [123_450_000, "2min 3.450000s"], // 12345%
];

describe("systemd time spans", () => {
  it.each(SEEN_ON_SYSTEMD)("formats %i µs as systemctl show does (%s)", (usec, text) => {
    expect(formatTimespan(usec)).toBe(text);
  });

  it.each(SEEN_ON_SYSTEMD)("parses %i µs back from %s", (usec, text) => {
    expect(parseTimespan(text)).toBe(usec);
  });

  it("reads infinity and rejects what is not a span", () => {
    expect(parseTimespan("infinity")).toBe(Infinity);
    expect(parseTimespan("2 seconds")).toBeUndefined();
    expect(parseTimespan("")).toBeUndefined();
  });
});
