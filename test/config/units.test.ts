import { describe, expect, it } from "vitest";
import { bytesToMiB, formatSize, parseCpus, parseSize } from "../../infra/config/units";

describe("parseSize", () => {
  it.each([
    ["512m", 512 * 1024 ** 2],
    ["4g", 4 * 1024 ** 3],
    ["1.5g", 1.5 * 1024 ** 3],
    ["64MiB", 64 * 1024 ** 2],
    ["2GB", 2 * 1024 ** 3],
    ["100k", 100 * 1024],
    [" 1T ", 1024 ** 4],
  ])("reads %s as Docker does (binary units)", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["4", "4x", "", "g", "-1g", "1.g", "4 gigs"])("refuses %j", (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
});

describe("formatSize", () => {
  it.each([
    [4 * 1024 ** 3, "4g"],
    [1536 * 1024 ** 2, "1536m"],
    [0, "0b"],
    [1000, "1000b"],
  ])("writes %d bytes as %s", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it("round-trips through parseSize", () => {
    expect(parseSize(formatSize(parseSize("1.5g")!))).toBe(parseSize("1.5g"));
  });
});

describe("bytesToMiB", () => {
  it("gives whole MiB, the unit @pulumi/docker takes", () => {
    expect(bytesToMiB(parseSize("4g")!)).toBe(4096);
  });
});

describe("parseCpus", () => {
  it.each([
    [2, 2],
    ["1.5", 1.5],
    ["0.25", 0.25],
  ])("reads %j", (value, cpus) => {
    expect(parseCpus(value)).toBe(cpus);
  });

  it.each(["abc", "-1", "1,5", ""])("refuses %j", (value) => {
    expect(parseCpus(value)).toBeUndefined();
  });
});
