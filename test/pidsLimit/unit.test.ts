// Pure decisions of the PidsLimit resource: host parsing, version comparison, read-back normalisation,
// input checks and the diff that decides update vs replace.
import { describe, expect, it } from "vitest";
import {
  apiVersionAtLeast,
  formatDockerHost,
  isContainerNotFound,
  dockerApiError,
  normalizePidsLimit,
  parseDockerHost,
  sshDialArgs,
} from "../../infra/pidsLimit/dockerApi";
import { checkPidsLimitInputs, diffPidsLimit } from "../../infra/pidsLimit/provider";

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

describe("checkPidsLimitInputs", () => {
  const good = { dockerHost: "unix:///var/run/docker.sock", containerId: "abc", limit: 100 };
  const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

  it("accepts good inputs and values not known yet", () => {
    expect(checkPidsLimitInputs(good)).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, containerId: unknown, limit: unknown })).toEqual([]);
  });

  it.each([
    [{ limit: 0 }, "limit"],
    [{ limit: -1 }, "limit"],
    [{ limit: 1.5 }, "limit"],
    [{ limit: "100" }, "limit"],
    [{ limit: 4_194_305 }, "limit"],
    [{ containerId: "" }, "containerId"],
    [{ dockerHost: "docker.sock" }, "dockerHost"],
  ])("refuses %j", (patch, property) => {
    const failures = checkPidsLimitInputs({ ...good, ...patch });
    expect(failures.map((f) => f.property)).toEqual([property]);
    expect(failures[0].reason).toContain(JSON.stringify(Object.values(patch)[0]).slice(0, 10));
  });

  it("accepts the bounds", () => {
    expect(checkPidsLimitInputs({ ...good, limit: 1 })).toEqual([]);
    expect(checkPidsLimitInputs({ ...good, limit: 4_194_304 })).toEqual([]);
  });
});

describe("diffPidsLimit", () => {
  const olds = { dockerHost: "unix:///var/run/docker.sock", containerId: "abc", limit: 100 };

  it("no change", () => {
    expect(diffPidsLimit(olds, { ...olds })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });
  it("a new container replaces (the new resource applies the limit to it)", () => {
    expect(diffPidsLimit(olds, { ...olds, containerId: "def" })).toMatchObject({ changes: true, replaces: ["containerId"] });
  });
  it("a container id not known yet (preview of a container replacement) replaces", () => {
    expect(diffPidsLimit(olds, { ...olds, containerId: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }).replaces).toEqual([
      "containerId",
    ]);
  });
  it("a new limit updates in place", () => {
    expect(diffPidsLimit(olds, { ...olds, limit: 64 })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });
  it("drift seen by refresh (limit in force differs) updates in place", () => {
    expect(diffPidsLimit({ ...olds, limit: -1 }, olds)).toMatchObject({ changes: true, replaces: [] });
  });
  it("a new way to reach the engine updates in place", () => {
    expect(diffPidsLimit(olds, { ...olds, dockerHost: "ssh://root@host" })).toMatchObject({ changes: true, replaces: [] });
  });
});
