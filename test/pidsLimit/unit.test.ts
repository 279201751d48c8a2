// Pure decisions of the PidsLimit resource: host parsing, version comparison, read-back normalisation,
// input checks and the diff that decides update vs replace.
import { describe, expect, it } from "vitest";
import {
  apiVersionAtLeast,
  formatDockerHost,
  isContainerNotFound,
  dockerApiError,
  limitsOf,
  normalizePidsLimit,
  parseDockerHost,
  sshDialArgs,
} from "../../infra/pidsLimit/dockerApi";
import { checkPidsLimitInputs, diffPidsLimit } from "../../infra/pidsLimit/provider";
import { TEST_HOST_KEY as HOST_KEY } from "../support/stackFiles";

describe("parseDockerHost", () => {
  it.each([
    ["unix:///var/run/docker.sock", { kind: "unix", socketPath: "/var/run/docker.sock" }],
    ["tcp://127.0.0.1:2376", { kind: "tcp", host: "127.0.0.1", port: 2376 }],
    ["tcp://docker.internal", { kind: "tcp", host: "docker.internal", port: 2375 }], // Docker's default port
    ["tcp://[::1]:2375", { kind: "tcp", host: "::1", port: 2375 }],
    ["ssh://deploy@example.org", { kind: "ssh", host: "example.org", user: "deploy" }],
    ["ssh://deploy@example.org:2222", { kind: "ssh", host: "example.org", user: "deploy", port: 2222 }],
    ["ssh://example.org", { kind: "ssh", host: "example.org" }],
    ["  ssh://root@127.0.0.1:22/  ", { kind: "ssh", host: "127.0.0.1", user: "root", port: 22 }],
  ])("%s", (input, expected) => {
    expect(parseDockerHost(input)).toEqual(expected);
  });

  it.each([
    ["", /empty/],
    ["unix://var/run/docker.sock", /absolute/],
    ["tcp://", /not a URL|no host name/],
    ["http://127.0.0.1:2375", /unsupported scheme "http:"/],
    ["ssh://u:secret@host", /passwords are not supported/],
    ["tcp://host:2375/v1.41", /path is not supported/],
    ["/var/run/docker.sock", /not a URL/],
  ])("refuses %j, naming the value and the accepted forms", (input, why) => {
    let err: unknown;
    try {
      parseDockerHost(input);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: "DockerApiError", code: "INVALID_HOST" });
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toContain(JSON.stringify(input));
    expect((err as Error).message).toContain("ssh://[user@]host[:port]");
  });

  it("formats back to the string people write", () => {
    for (const s of ["unix:///run/docker.sock", "tcp://10.0.0.2:2375", "tcp://[::1]:2375", "ssh://u@h:2222", "ssh://h"]) {
      expect(formatDockerHost(parseDockerHost(s))).toBe(s);
    }
  });
});

describe("sshDialArgs", () => {
  it("runs docker system dial-stdio in batch mode, with port and extra options before the destination", () => {
    expect(sshDialArgs({ kind: "ssh", host: "h", user: "u", port: 2222 }, ["-i", "/k"])).toEqual([
      "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-p", "2222", "-i", "/k", "--", "u@h",
      "docker", "system", "dial-stdio",
    ]);
    expect(sshDialArgs({ kind: "ssh", host: "h" })).toEqual([
      "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "--", "h", "docker", "system", "dial-stdio",
    ]);
  });
});

describe("apiVersionAtLeast", () => {
  it.each([
    ["1.41", "1.40", true],
    ["1.40", "1.40", true],
    ["1.39", "1.40", false],
    ["1.5", "1.40", false], // numeric, not string, comparison
    ["2.0", "1.40", true],
    ["garbage", "1.40", false],
  ])("%s >= %s is %s", (v, min, expected) => {
    expect(apiVersionAtLeast(v, min)).toBe(expected);
  });
});

describe("normalizePidsLimit", () => {
  it("maps every spelling of 'no limit' to -1 and keeps real limits", () => {
    expect([null, undefined, 0, -1, 64].map(normalizePidsLimit)).toEqual([-1, -1, -1, -1, 64]);
  });
});

describe("isContainerNotFound", () => {
  it("recognises only the not-found error", () => {
    expect(isContainerNotFound(dockerApiError("CONTAINER_NOT_FOUND", "x", 404))).toBe(true);
    expect(isContainerNotFound(dockerApiError("API_ERROR", "x", 500))).toBe(false);
    expect(isContainerNotFound(Object.assign(new Error("x"), { code: "CONTAINER_NOT_FOUND" }))).toBe(false);
    expect(isContainerNotFound(undefined)).toBe(false);
  });
});

const MIB = 1024 * 1024;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

describe("checkPidsLimitInputs", () => {
  const good = { dockerHost: "unix:///var/run/docker.sock", containerId: "abc", limit: 100, memory: 512 * MIB, memorySwap: 512 * MIB, running: true };

  it("accepts good inputs and values not known yet", () => {
    expect(checkPidsLimitInputs(good)).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, containerId: UNKNOWN, limit: UNKNOWN, memory: UNKNOWN, memorySwap: UNKNOWN })).toEqual([]);
  });

  it.each([
    [{ limit: 0 }, "limit"],
    [{ limit: -1 }, "limit"],
    [{ limit: 1.5 }, "limit"],
    [{ limit: "100" }, "limit"],
    [{ limit: 4_194_305 }, "limit"],
    [{ containerId: "" }, "containerId"],
    [{ dockerHost: "docker.sock" }, "dockerHost"],
    [{ memory: 0 }, "memory"],
    [{ memory: "512m" }, "memory"],
    [{ memorySwap: 256 * MIB }, "memorySwap"], // less than memory
    [{ memorySwap: 0 }, "memorySwap"],
    [{ running: "yes" }, "running"],
    // Issue 12: over SSH only with the host's key pinned, and only a key that is one.
    [{ dockerHost: "ssh://root@host" }, "hostKey"],
    [{ hostKey: `${HOST_KEY}\n* ssh-ed25519 AAAAattacker` }, "hostKey"],
    [{ hostKey: "SHA256:abcdef" }, "hostKey"],
  ])("refuses %j", (patch, property) => {
    const failures = checkPidsLimitInputs({ ...good, ...patch });
    expect(failures.map((f) => f.property)).toEqual([property]);
    expect(failures[0].reason).toContain(JSON.stringify(Object.values(patch)[0]).slice(0, 10));
  });

  it("accepts the bounds, swap allowed, and unlimited swap", () => {
    expect(checkPidsLimitInputs({ ...good, limit: 1 })).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, limit: 4_194_304 })).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, memorySwap: 1024 * MIB })).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, memorySwap: -1 })).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, running: false })).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, dockerHost: "ssh://root@host", hostKey: HOST_KEY })).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, dockerHost: "ssh://root@host", hostKey: UNKNOWN })).toEqual([]);
  });
});

describe("diffPidsLimit", () => {
  const olds = { dockerHost: "unix:///var/run/docker.sock", containerId: "abc", limit: 100, memory: 512 * MIB, memorySwap: 512 * MIB, running: true };
  const inPlace = { changes: true, replaces: [], deleteBeforeReplace: false };

  it("no change", () => {
    expect(diffPidsLimit(olds, { ...olds })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });
  it("a new container replaces (the new resource caps it, then starts it)", () => {
    expect(diffPidsLimit(olds, { ...olds, containerId: "def" })).toMatchObject({ changes: true, replaces: ["containerId"] });
  });
  it("a container id not known yet (preview of a container replacement) replaces", () => {
    expect(diffPidsLimit(olds, { ...olds, containerId: UNKNOWN }).replaces).toEqual(["containerId"]);
  });
  it.each([
    ["a new limit", { limit: 64 }],
    ["new memory", { memory: 1024 * MIB, memorySwap: 1024 * MIB }],
    ["swap allowed", { memorySwap: 1024 * MIB }],
    ["a new way to reach the engine", { dockerHost: "ssh://root@host" }],
    ["a new pinned host key (recorded, so refresh uses it)", { hostKey: HOST_KEY }],
  ])("%s updates in place", (_what, patch) => {
    expect(diffPidsLimit(olds, { ...olds, ...patch })).toEqual(inPlace);
  });
  it.each([
    ["a limit changed by hand", { limit: -1 }],
    ["swap turned on by hand (memorySwap -1)", { memorySwap: -1 }],
    ["a container stopped by hand", { running: false }],
  ])("drift seen by refresh, %s, updates in place", (_what, found) => {
    expect(diffPidsLimit({ ...olds, ...found }, olds)).toEqual(inPlace);
  });
  it("state written before memory and running existed updates in place (once), re-sending them", () => {
    expect(diffPidsLimit({ dockerHost: olds.dockerHost, containerId: "abc", limit: 100 }, olds)).toEqual(inPlace);
  });
  it("no pinned key before or after is no change", () => {
    expect(diffPidsLimit({ ...olds, hostKey: undefined }, { ...olds }).changes).toBe(false);
  });
  it("running false never asks for anything, whatever runs", () => {
    expect(diffPidsLimit({ ...olds, running: false }, { ...olds, running: false })).toMatchObject({ changes: false });
    expect(diffPidsLimit(olds, { ...olds, running: false })).toMatchObject({ changes: false });
  });
});

describe("limitsOf", () => {
  it.each([
    [{ HostConfig: { PidsLimit: 100, Memory: 64, MemorySwap: 64 }, State: { Running: true } }, { pidsLimit: 100, memory: 64, memorySwap: 64, running: true }],
    [{ HostConfig: { PidsLimit: null }, State: { Status: "created", Running: false } }, { pidsLimit: -1, memory: 0, memorySwap: 0, running: false }],
    [{ HostConfig: { PidsLimit: 0, Memory: 64, MemorySwap: -1 }, State: { Restarting: true, Running: true } }, { pidsLimit: -1, memory: 64, memorySwap: -1, running: true }],
    [{}, { pidsLimit: -1, memory: 0, memorySwap: 0, running: false }],
  ])("%j", (inspect, expected) => {
    expect(limitsOf(inspect)).toEqual(expected);
  });
});
