// Pure decisions of the MetaMcpSettings resource: value checks, database URLs, the SQL and how it is rendered,
// what psql's and node-postgres's outcomes mean, input checks and the diff.
import { describe, expect, it } from "vitest";
import {
  describeTarget,
  isRetryable,
  pgError,
  psqlOutcome,
  tableTimeoutMessage,
} from "../../infra/metamcpSettings/database";
import {
  checkMetaMcpSettingsInputs,
  diffMetaMcpSettings,
  outputsOf,
  targetOf,
} from "../../infra/metamcpSettings/provider";
import {
  DESCRIPTIONS,
  parseDatabaseUrl,
  redactSecrets,
  settingsProblems,
  validSettings,
} from "../../infra/metamcpSettings/settings";
import {
  configTableExists,
  parseRows,
  psqlArgv,
  psqlEnv,
  sql,
  toPgQuery,
  toPsqlScript,
  writeStatements,
} from "../../infra/metamcpSettings/sql";
import { dockerApiError } from "../../infra/dockerEngine/transport";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const PASSWORD = "s3cr3t p@ss/word";
const URL_WITH_PASSWORD = `postgres://metamcp:${encodeURIComponent(PASSWORD)}@db.example.org:6543/metamcp_db`;

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error("expected a throw");
}

describe("settingsProblems: MetaMCP's own bounds", () => {
  it.each([
    [{ maxAttempts: "3" }],
    [{ maxAttempts: "1", sessionLifetime: "300000" }],
    [{ maxAttempts: "10", sessionLifetime: "86400000" }],
    [{ maxAttempts: "3", sessionLifetime: undefined }],
    [{ maxAttempts: "3", sessionLifetime: null }],
  ])("accepts %j", (settings) => {
    expect(settingsProblems(settings)).toEqual([]);
  });

  it.each([
    [{ maxAttempts: "0" }, "maxAttempts", /"0" is outside 1 to 10/],
    [{ maxAttempts: "11" }, "maxAttempts", /"11" is outside 1 to 10/],
    [{ maxAttempts: "3.0" }, "maxAttempts", /"3.0" is not a whole number/],
    [{ maxAttempts: "03" }, "maxAttempts", /"03" is not a whole number/],
    [{ maxAttempts: 3 }, "maxAttempts", /3 is not a whole number/], // a number, not the row's text
    [{ maxAttempts: undefined }, "maxAttempts", /undefined is not a whole number|is not a whole number/],
    [{ maxAttempts: "3", sessionLifetime: "299999" }, "sessionLifetime", /"299999" is outside 300000 to 86400000/],
    [{ maxAttempts: "3", sessionLifetime: "86400001" }, "sessionLifetime", /outside/],
    [{ maxAttempts: "3", sessionLifetime: "1e6" }, "sessionLifetime", /"1e6" is not a whole number/],
    [{ maxAttempts: "3", sessionLifetime: "-300000" }, "sessionLifetime", /not a whole number/],
    [{ maxAttempts: "3", sessionLifetime: " 300000" }, "sessionLifetime", /not a whole number/],
    [{ maxAttempts: "3", sessionLifetime: "" }, "sessionLifetime", /not a whole number/],
    [{ maxAttempts: "3", sessionLifetime: "300000; DROP TABLE config" }, "sessionLifetime", /not a whole number/],
  ])("refuses %j, naming the key, the value and what is allowed", (settings, property, why) => {
    const problems = settingsProblems(settings);
    expect(problems.map((p) => p.property)).toEqual([property]);
    expect(problems[0].reason).toMatch(why);
    expect(problems[0].reason).toContain(property === "maxAttempts" ? "MCP_MAX_ATTEMPTS" : "SESSION_LIFETIME");
    expect(problems[0].reason).toMatch(property === "maxAttempts" ? /from 1 to 10/ : /from 300000 \(5 min\) to 86400000 \(24 h\)/);
  });

  it("validSettings returns the rows' texts and drops an absent lifetime", () => {
    expect(validSettings({ maxAttempts: "3", sessionLifetime: "3600000" })).toEqual({ maxAttempts: "3", sessionLifetime: "3600000" });
    expect(validSettings({ maxAttempts: "3", sessionLifetime: null })).toEqual({ maxAttempts: "3" });
  });

  it("validSettings names every bad value in one INVALID_SETTING error", () => {
    const err = thrown(() => validSettings({ maxAttempts: "0", sessionLifetime: "5" }));
    expect(err).toMatchObject({ name: "MetaMcpSettingsError", code: "INVALID_SETTING" });
    expect(err.message).toMatch(/sessionLifetime.*"5".*; maxAttempts.*"0"/);
  });
});

describe("parseDatabaseUrl", () => {
  it.each([
    [URL_WITH_PASSWORD, { host: "db.example.org", port: 6543, database: "metamcp_db", user: "metamcp", secrets: [PASSWORD, encodeURIComponent(PASSWORD)] }],
    ["postgresql://u@h/d", { host: "h", port: 5432, database: "d", user: "u", secrets: [] }],
    ["postgres://u:p@[::1]:5433/d?sslmode=require", { host: "::1", port: 5433, database: "d", user: "u", secrets: ["p"] }],
    // node-postgres's forms: an empty host with the socket directory as a parameter; parameters win
    ["postgres://u:p@/d?host=/var/run/postgresql", { host: "/var/run/postgresql", port: 5432, database: "d", user: "u", secrets: ["p"] }],
    ["postgres://u:p@h:1/d?port=5433&user=v&password=q", { host: "h", port: 5433, database: "d", user: "v", secrets: ["p", "q"] }],
  ])("%s", (url, parts) => {
    expect(parseDatabaseUrl(url)).toEqual(parts);
  });

  it.each([
    ["", /is empty/],
    ["not a url", /is not a URL/],
    [`mysql://metamcp:${encodeURIComponent(PASSWORD)}@h/d`, /scheme "mysql:"/],
    [`postgres://metamcp:${encodeURIComponent(PASSWORD)}@h:5432/`, /names no database/],
    [`postgres://metamcp:${encodeURIComponent(PASSWORD)}@h/d?port=x`, /port that is not a number/],
    ["postgres://metamcp:pa%zzss@h/d", /malformed %-escape/],
  ])("refuses %j without ever quoting it", (url, why) => {
    const err = thrown(() => parseDatabaseUrl(url));
    expect(err).toMatchObject({ code: "INVALID_DATABASE_URL" });
    expect(err.message).toMatch(why);
    expect(err.message).toContain("not shown");
    expect(err.message).not.toContain(encodeURIComponent(PASSWORD));
    expect(err.message).not.toContain("pa%zzss");
    if (url !== "") expect(err.message).not.toContain(url);
  });

  it("redactSecrets removes every password as given and URL-encoded", () => {
    expect(redactSecrets(`a ${PASSWORD} b ${encodeURIComponent(PASSWORD)} c q`, [PASSWORD, "q"])).toBe("a *** b *** c ***");
    expect(redactSecrets("nothing here", [])).toBe("nothing here");
  });
});

describe("the sql tag and its renderings", () => {
  const hostile = "x'); DROP TABLE config; --";

  it("every interpolated value becomes a parameter, never SQL text", () => {
    const statement = sql`SELECT ${hostile}, ${"b"}`;
    expect(statement.parts.join("")).not.toContain("DROP");
    expect(toPgQuery(statement)).toEqual({ text: "SELECT $1, $2", values: [hostile, "b"] });
  });

  it("psql: parameters numbered across the whole script, referenced as quoted variables", () => {
    const { script, variables } = toPsqlScript([sql`SELECT ${"a"}`, sql`BEGIN`, sql`SELECT ${"b"}, ${hostile}`]);
    expect(script).toBe("SELECT :'p1';\nBEGIN;\nSELECT :'p2', :'p3';\n");
    expect(variables).toEqual({ p1: "a", p2: "b", p3: hostile });
    expect(script).not.toContain("DROP");
  });

  it("psql's argv: no psqlrc, quiet, bare values, no password prompt, stop at the first error, one -v per variable", () => {
    expect(psqlArgv({ p1: "a b", p2: "3" })).toEqual([
      "psql", "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-v", "p1=a b", "-v", "p2=3",
    ]);
    expect(psqlEnv("metamcp_user", "postgres://x")).toEqual(["PGUSER=metamcp_user", "PGDATABASE=postgres://x"]);
  });

  it("the table probe answers text", () => {
    expect(toPgQuery(configTableExists()).text).toBe("SELECT (to_regclass('config') IS NOT NULL)::text");
  });
});

describe("writeStatements", () => {
  const rendered = (settings: { sessionLifetime?: string; maxAttempts?: string }) =>
    writeStatements(settings).map((s) => toPgQuery(s));

  it("one transaction: upsert MCP_MAX_ATTEMPTS and SESSION_LIFETIME with MetaMCP's descriptions, then read back", () => {
    const queries = rendered({ maxAttempts: "3", sessionLifetime: "86400000" });
    expect(queries.map((q) => q.text.split(/\s/)[0])).toEqual(["BEGIN", "INSERT", "INSERT", "COMMIT", "SELECT"]);
    expect(queries[1].values).toEqual(["MCP_MAX_ATTEMPTS", "3", DESCRIPTIONS.MCP_MAX_ATTEMPTS]);
    expect(queries[2].values).toEqual(["SESSION_LIFETIME", "86400000", "Session lifetime in milliseconds before automatic cleanup"]);
    expect(queries[1].text).toMatch(/ON CONFLICT \(id\) DO UPDATE SET value = EXCLUDED\.value, description = EXCLUDED\.description, updated_at = now\(\)/);
    expect(queries[1].text).toMatch(/WHERE config\.value IS DISTINCT FROM EXCLUDED\.value/);
    expect(queries[4]).toEqual({
      text: "SELECT coalesce(json_object_agg(id, value), '{}')::text FROM config WHERE id IN ($1, $2)",
      values: ["SESSION_LIFETIME", "MCP_MAX_ATTEMPTS"],
    });
  });

  it("no lifetime deletes the SESSION_LIFETIME row, as MetaMCP's UI does", () => {
    const queries = rendered({ maxAttempts: "3" });
    expect(queries[2]).toEqual({ text: "DELETE FROM config WHERE id = $1", values: ["SESSION_LIFETIME"] });
  });

  it.each([
    [{ maxAttempts: "0" }],
    [{ maxAttempts: "3", sessionLifetime: "1; DROP TABLE config" }],
    [{}],
  ])("refuses %j before building any statement", (settings) => {
    expect(thrown(() => writeStatements(settings))).toMatchObject({ code: "INVALID_SETTING" });
  });
});

describe("parseRows", () => {
  it.each([
    ['{ "MCP_MAX_ATTEMPTS" : "3", "SESSION_LIFETIME" : "86400000" }', { maxAttempts: "3", sessionLifetime: "86400000" }],
    ['{ "MCP_MAX_ATTEMPTS" : "3" }', { maxAttempts: "3" }],
    ["{}", {}],
    ['{ "MCP_MAX_ATTEMPTS" : "abc" }', { maxAttempts: "abc" }], // a hand-written row is reported as it is: drift
  ])("%s", (text, settings) => {
    expect(parseRows(text)).toEqual(settings);
  });

  it.each([[""], ["true"], ["[]"], ["null"], ['{ "MCP_MAX_ATTEMPTS" : 3 }']])("%j is not an answer the statements give", (text) => {
    expect(parseRows(text)).toBeUndefined();
  });
});

describe("psqlOutcome: psql's exit codes", () => {
  const where = 'database "d" (user "u") in container abc on unix:///var/run/docker.sock';
  it("0: the last statement's value, without the newline", () => {
    expect(psqlOutcome({ exitCode: 0, stdout: "true\n", stderr: "" }, where)).toBe("true");
  });
  it.each([
    [2, "psql: error: connection to server on socket failed: No such file or directory", "DB_UNREACHABLE", /psql could not connect to database "d"/],
    [3, 'ERROR:  relation "config" does not exist', "SQL_FAILED", /a statement failed in database "d".*relation "config"/],
    [126, 'OCI runtime exec failed: exec: "psql": executable file not found in $PATH', "PSQL_MISSING", /no psql on its PATH/],
    [127, "sh: psql: not found", "PSQL_MISSING", /no psql/],
    [1, "out of memory", "SQL_FAILED", /psql exited 1/],
  ])("exit %i is %s", (exitCode, said, code, why) => {
    const err = thrown(() => psqlOutcome({ exitCode, stdout: exitCode === 126 ? said : "", stderr: exitCode === 126 ? "" : said }, where));
    expect(err).toMatchObject({ code });
    expect(err.message).toMatch(why);
    expect(err.message).toContain(said);
  });
});

describe("pgError: node-postgres errors, never with the password", () => {
  const parts = parseDatabaseUrl(URL_WITH_PASSWORD);
  it.each([
    [{ code: "ECONNREFUSED", message: "connect ECONNREFUSED 10.0.0.5:6543" }, "connect", "DB_UNREACHABLE"],
    [{ code: "57P03", message: "the database system is starting up" }, "connect", "DB_UNREACHABLE"],
    [{ message: "Connection terminated due to connection timeout" }, "connect", "DB_UNREACHABLE"],
    [{ code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND db.example.org" }, "connect", "DB_UNREACHABLE"],
    [{ code: "28P01", message: 'password authentication failed for user "metamcp"' }, "connect", "DB_AUTH_FAILED"],
    [{ code: "3D000", message: 'database "metamcp_db" does not exist' }, "connect", "DB_NOT_FOUND"],
    [{ code: "42P01", message: 'relation "config" does not exist' }, "query", "SQL_FAILED"],
    [{ code: "XX000", message: `weird ${PASSWORD} echo` }, "query", "SQL_FAILED"],
  ] as const)("%j during %s is %s, naming host and port", (err, phase, code) => {
    const e = pgError(err, parts, phase);
    expect(e).toMatchObject({ name: "MetaMcpSettingsError", code });
    expect(e.message).toContain("db.example.org:6543");
    expect(e.message).toContain('database "metamcp_db", user "metamcp"');
    expect(e.message).not.toContain(PASSWORD);
    expect(e.message).not.toContain(encodeURIComponent(PASSWORD));
  });
});

describe("the wait's decisions", () => {
  it("retries only 'no connection yet' and 'container not running'", () => {
    const settings = (code: string) => Object.assign(new Error(code), { name: "MetaMcpSettingsError", code });
    expect(isRetryable(settings("DB_UNREACHABLE"))).toBe(true);
    expect(isRetryable(dockerApiError("CONTAINER_NOT_RUNNING", "x", 409))).toBe(true);
    for (const code of ["DB_AUTH_FAILED", "DB_NOT_FOUND", "SQL_FAILED", "PSQL_MISSING"]) expect(isRetryable(settings(code))).toBe(false);
    expect(isRetryable(dockerApiError("CONTAINER_NOT_FOUND", "x", 404))).toBe(false);
    expect(isRetryable(dockerApiError("UNREACHABLE", "x"))).toBe(false);
    expect(isRetryable(new Error("DB_UNREACHABLE"))).toBe(false);
  });

  it("the timeout says where, how long, what to check, and what was seen last", () => {
    const message = tableTimeoutMessage('database "d"', 180_000, "the table does not exist yet");
    expect(message).toMatch(/^MetaMCP's "config" table did not appear in database "d" within 180 s\./);
    expect(message).toContain("Migrations completed successfully!");
    expect(message).toContain("docker logs");
    expect(message).toMatch(/Last seen: the table does not exist yet$/);
  });

  it("describeTarget names the container or host and port, never the password", () => {
    expect(describeTarget({ kind: "container", dockerHost: "ssh://root@h", containerId: "0123456789abcdef", user: "u", database: "d" })).toBe(
      'database "d" (user "u") in container 0123456789ab on ssh://root@h',
    );
    const url = describeTarget({ kind: "url", databaseUrl: URL_WITH_PASSWORD });
    expect(url).toBe('database "metamcp_db" (user "metamcp") at db.example.org:6543');
  });
});

describe("checkMetaMcpSettingsInputs", () => {
  const internal = { maxAttempts: "3", sessionLifetime: "86400000", dockerHost: "unix:///var/run/docker.sock", containerId: "abc", user: "metamcp_user", database: "metamcp_db" };
  const external = { maxAttempts: "3", databaseUrl: URL_WITH_PASSWORD };

  it("accepts either way in, and values not known yet", () => {
    expect(checkMetaMcpSettingsInputs(internal)).toEqual([]);
    expect(checkMetaMcpSettingsInputs(external)).toEqual([]);
    expect(checkMetaMcpSettingsInputs({ ...internal, containerId: UNKNOWN, maxAttempts: UNKNOWN, sessionLifetime: UNKNOWN })).toEqual([]);
    expect(checkMetaMcpSettingsInputs({ ...external, databaseUrl: UNKNOWN })).toEqual([]);
    expect(checkMetaMcpSettingsInputs({ ...internal, waitTimeoutMs: 1_000 })).toEqual([]);
    expect(checkMetaMcpSettingsInputs({ ...internal, dockerHost: "ssh://deploy@h", hostKey: "ssh-ed25519 AAAAC3Nz" })).toEqual([]);
  });

  it.each([
    [{ ...internal, maxAttempts: "0" }, ["maxAttempts"]],
    [{ ...internal, sessionLifetime: "60000" }, ["sessionLifetime"]],
    [{ ...internal, containerId: "" }, ["containerId"]],
    [{ ...internal, user: undefined }, ["user"]],
    [{ ...internal, database: "d".repeat(64) }, ["database"]],
    [{ ...internal, dockerHost: "docker.sock" }, ["dockerHost"]],
    [{ maxAttempts: "3" }, ["dockerHost", "containerId", "user", "database"]],
    [{ ...external, containerId: "abc" }, ["containerId"]],
    [{ ...external, databaseUrl: "mysql://u:pw@h/d" }, ["databaseUrl"]],
    [{ ...internal, waitTimeoutMs: 999 }, ["waitTimeoutMs"]],
    [{ ...internal, waitTimeoutMs: 1.5e3 + 0.5 }, ["waitTimeoutMs"]],
    // Issue 12: psql over SSH only with the host's key pinned.
    [{ ...internal, dockerHost: "ssh://deploy@h" }, ["hostKey"]],
    [{ ...internal, dockerHost: "ssh://deploy@h", hostKey: "ssh-ed25519 AAAA\n* ssh-rsa B" }, ["hostKey"]],
  ])("refuses %j", (inputs, properties) => {
    expect(checkMetaMcpSettingsInputs(inputs).map((f) => f.property)).toEqual(properties);
  });

  it("a bad databaseUrl is refused without its value", () => {
    const [failure] = checkMetaMcpSettingsInputs({ maxAttempts: "3", databaseUrl: "mysql://u:hunter2@h/d" });
    expect(failure.reason).not.toContain("hunter2");
  });
});

describe("targetOf and outputsOf", () => {
  it("picks the way in", () => {
    expect(targetOf({ databaseUrl: "postgres://u@h/d", dockerHost: undefined })).toEqual({ kind: "url", databaseUrl: "postgres://u@h/d" });
    expect(targetOf({ dockerHost: "unix:///s", containerId: "c", user: "u", database: "d" })).toEqual({
      kind: "container", dockerHost: "unix:///s", containerId: "c", user: "u", database: "d",
    });
    expect(() => targetOf({ maxAttempts: "3" })).toThrow(/no way into the database recorded/);
  });

  it("carries the recorded pin to psql's exec, so refresh checks the same host key as up", () => {
    const recorded = { dockerHost: "ssh://deploy@h", hostKey: "ssh-ed25519 AAAAC3Nz", containerId: "c", user: "u", database: "d" };
    expect(targetOf(recorded)).toEqual({ kind: "container", ...recorded });
    expect(outputsOf({ maxAttempts: "3", ...recorded }, { maxAttempts: "3" })).toMatchObject({ hostKey: "ssh-ed25519 AAAAC3Nz" });
  });

  it("records the rows as read, not as declared; absent rows stay absent", () => {
    const inputs = { maxAttempts: "3", sessionLifetime: "86400000", databaseUrl: "postgres://u@h/d", waitTimeoutMs: undefined };
    expect(outputsOf(inputs, { maxAttempts: "1" })).toEqual({ maxAttempts: "1", databaseUrl: "postgres://u@h/d" });
    expect(outputsOf(inputs, {})).toEqual({ databaseUrl: "postgres://u@h/d" });
  });
});

describe("diffMetaMcpSettings", () => {
  const olds = { maxAttempts: "3", sessionLifetime: "86400000", dockerHost: "unix:///s", containerId: "c", user: "u", database: "d" };

  it("no change", () => {
    expect(diffMetaMcpSettings(olds, { ...olds })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });
  it.each([
    ["a new value", { ...olds, maxAttempts: "5" }],
    ["lifetime switched off", { ...olds, sessionLifetime: undefined }],
    ["a new Postgres container", { ...olds, containerId: "c2" }],
    ["a container id not known yet", { ...olds, containerId: UNKNOWN }],
    ["a new wait timeout", { ...olds, waitTimeoutMs: 5_000 }],
    ["a new pinned host key", { ...olds, hostKey: "ssh-ed25519 AAAAC3Nz" }],
  ])("%s is an in-place update, never a replacement", (_what, news) => {
    expect(diffMetaMcpSettings(olds, news)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });
  it.each([
    ["MCP_MAX_ATTEMPTS changed in the UI", { ...olds, maxAttempts: "1" }],
    ["MCP_MAX_ATTEMPTS row deleted", { ...olds, maxAttempts: undefined }],
    ["SESSION_LIFETIME switched off in the UI", { ...olds, sessionLifetime: undefined }],
  ])("drift seen by refresh (%s) is an update that writes the declared values back", (_what, refreshed) => {
    expect(diffMetaMcpSettings(refreshed, olds)).toMatchObject({ changes: true, replaces: [] });
  });
  it("null and absent are the same", () => {
    expect(diffMetaMcpSettings({ ...olds, sessionLifetime: null as unknown as undefined }, { ...olds, sessionLifetime: undefined }).changes).toBe(false);
  });
});
