// MetaMcpSettings against a real PostgreSQL, the external-database way in (node-postgres with databaseUrl): the wait
// for MetaMCP's table, the upsert, drift made the way MetaMCP's UI makes it, delete, refused values, and errors
// that name host and port but never the password. Each test gets its own database with the `config` table as
// MetaMCP 2.4.22's migrations create it (fixtures/metamcp-config-table.sql).
import { afterEach, beforeEach, expect, it } from "vitest";
import { readSettings } from "../../infra/metamcpSettings/database";
import {
  diffMetaMcpSettings,
  metaMcpSettingsProvider as provider,
  type MetaMcpSettingsInputs,
} from "../../infra/metamcpSettings/provider";
import { freePort } from "../support/net";
import {
  adminUrl,
  createConfigTable,
  createTestDatabase,
  describeWithPostgres,
  queryRows,
  type TestDatabase,
} from "../support/postgres";

/** What MetaMCP's configRepo.setConfig runs when someone saves the settings page (apps/backend/src/db/repositories). */
async function setInUi(url: string, id: string, value: string, description: string): Promise<void> {
  await queryRows(
    url,
    `INSERT INTO config (id, value, description) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET value = $2, description = $3, updated_at = now()`,
    [id, value, description],
  );
}

/** What MetaMCP's UI does to switch the session lifetime off (configRepo.deleteConfig). */
async function deleteInUi(url: string, id: string): Promise<void> {
  await queryRows(url, "DELETE FROM config WHERE id = $1", [id]);
}

async function rows(url: string): Promise<Record<string, { value: string; description: string | null; updated_at: Date }>> {
  const found = await queryRows(url, "SELECT id, value, description, updated_at FROM config ORDER BY id");
  return Object.fromEntries(found.map((r) => [r.id as string, { value: r.value as string, description: r.description as string | null, updated_at: r.updated_at as Date }]));
}

function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: Error & { code?: string }) => err,
  );
}

describeWithPostgres("MetaMcpSettings through node-postgres (external database)", () => {
  let db: TestDatabase;
  let declared: MetaMcpSettingsInputs;

  beforeEach(async () => {
    db = await createTestDatabase();
    declared = { maxAttempts: "3", sessionLifetime: "86400000", databaseUrl: db.url, waitTimeoutMs: 20_000 };
  });
  afterEach(async () => db.drop());

  it("create waits for MetaMCP's table, then writes both rows with MetaMCP's descriptions", async () => {
    const started = Date.now();
    const creating = provider.create(declared);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await queryRows(db.url, "SELECT to_regclass('config') AS t")).toEqual([{ t: null }]); // still waiting
    await createConfigTable(db.url);
    const created = await creating;
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
    expect(created).toEqual({ id: "metamcp-settings", outs: declared });
    const now = await rows(db.url);
    expect(now.MCP_MAX_ATTEMPTS).toMatchObject({ value: "3", description: "Maximum number of crash attempts before marking MCP server as ERROR" });
    expect(now.SESSION_LIFETIME).toMatchObject({ value: "86400000", description: "Session lifetime in milliseconds before automatic cleanup" });
  });

  it("a table that never appears ends the wait with what to check", async () => {
    const err = await failure(provider.create({ ...declared, waitTimeoutMs: 1_500 }));
    expect(err).toMatchObject({ code: "TABLE_TIMEOUT" });
    expect(err.message).toContain(`MetaMCP's "config" table did not appear in database "${db.name}"`);
    expect(err.message).toContain("within 2 s");
    expect(err.message).toContain("Migrations completed successfully!");
    expect(err.message).toContain("Last seen: the database answers, but the table does not exist yet");
  });

  it("upsert: leaves MetaMCP's other rows alone, and an unchanged value keeps its updated_at", async () => {
    await createConfigTable(db.url);
    await setInUi(db.url, "DISABLE_SIGNUP", "true", "Whether new user signup is disabled");
    await setInUi(db.url, "MCP_MAX_ATTEMPTS", "1", "Maximum number of crash attempts before marking MCP server as ERROR");
    await provider.create(declared);
    const first = await rows(db.url);
    expect(first.DISABLE_SIGNUP.value).toBe("true");
    expect(first.MCP_MAX_ATTEMPTS.value).toBe("3");

    const updated = await provider.update!("metamcp-settings", declared, { ...declared, sessionLifetime: "3600000" });
    expect(updated.outs).toMatchObject({ maxAttempts: "3", sessionLifetime: "3600000" });
    const second = await rows(db.url);
    expect(second.SESSION_LIFETIME.value).toBe("3600000");
    expect(second.SESSION_LIFETIME.updated_at.getTime()).toBeGreaterThan(first.SESSION_LIFETIME.updated_at.getTime());
    expect(second.MCP_MAX_ATTEMPTS.updated_at).toEqual(first.MCP_MAX_ATTEMPTS.updated_at);
    expect(Object.keys(second).sort()).toEqual(["DISABLE_SIGNUP", "MCP_MAX_ATTEMPTS", "SESSION_LIFETIME"]);
  });

  it("read sees values changed in MetaMCP's UI; diff makes that an update, which writes the declared values back", async () => {
    await createConfigTable(db.url);
    const { outs } = await provider.create(declared);
    await setInUi(db.url, "MCP_MAX_ATTEMPTS", "1", "Maximum number of crash attempts before marking MCP server as ERROR");
    await deleteInUi(db.url, "SESSION_LIFETIME");

    const refreshed = await provider.read!("metamcp-settings", outs);
    expect(refreshed).toEqual({ id: "metamcp-settings", props: { maxAttempts: "1", databaseUrl: db.url, waitTimeoutMs: 20_000 } });
    expect(diffMetaMcpSettings(refreshed.props!, declared)).toMatchObject({ changes: true, replaces: [] });

    const repaired = await provider.update!("metamcp-settings", refreshed.props!, declared);
    expect(repaired.outs).toEqual(declared);
    expect(await readSettings({ kind: "url", databaseUrl: db.url })).toEqual({ maxAttempts: "3", sessionLifetime: "86400000" });
  });

  it("no lifetime declared: the SESSION_LIFETIME row is removed, as MetaMCP's UI switches it off", async () => {
    await createConfigTable(db.url);
    await provider.create(declared);
    const { sessionLifetime: _off, ...noLifetime } = declared;
    const updated = await provider.update!("metamcp-settings", declared, noLifetime);
    expect(updated.outs).toEqual(noLifetime);
    expect(Object.keys(await rows(db.url))).toEqual(["MCP_MAX_ATTEMPTS"]);
  });

  it("delete leaves the rows as they are", async () => {
    await createConfigTable(db.url);
    const { outs } = await provider.create(declared);
    await provider.delete!("metamcp-settings", outs!);
    expect(await readSettings({ kind: "url", databaseUrl: db.url })).toEqual({ maxAttempts: "3", sessionLifetime: "86400000" });
  });

  it("read while the table does not exist reports no rows, without waiting", async () => {
    const started = Date.now();
    expect(await provider.read!("metamcp-settings", declared)).toEqual({ id: "metamcp-settings", props: { databaseUrl: db.url, waitTimeoutMs: 20_000 } });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a hand-written odd value is read back as it is, and is drift", async () => {
    await createConfigTable(db.url);
    const { outs } = await provider.create(declared);
    await setInUi(db.url, "MCP_MAX_ATTEMPTS", "three", "typed by hand");
    const refreshed = await provider.read!("metamcp-settings", outs);
    expect(refreshed.props?.maxAttempts).toBe("three");
    expect(diffMetaMcpSettings(refreshed.props!, declared).changes).toBe(true);
  });

  it.each([
    [{ maxAttempts: "0" }, /maxAttempts.*"0" is outside 1 to 10/],
    [{ maxAttempts: "3", sessionLifetime: "60000" }, /sessionLifetime.*"60000" is outside/],
    [{ maxAttempts: "3", sessionLifetime: "1; DROP TABLE config" }, /not a whole number/],
  ])("bad values %j are refused before any SQL: nothing is touched", async (settings, why) => {
    await createConfigTable(db.url);
    await setInUi(db.url, "MCP_MAX_ATTEMPTS", "2", "before");
    const err = await failure(provider.create({ ...declared, ...settings }));
    expect(err).toMatchObject({ code: "INVALID_SETTING" });
    expect(err.message).toMatch(why);
    expect(Object.keys(await rows(db.url))).toEqual(["MCP_MAX_ATTEMPTS"]);
    expect((await rows(db.url)).MCP_MAX_ATTEMPTS.value).toBe("2");
    // Refused before connecting: the same values against a database nobody serves fail the same way, at once.
    const nowhere = `postgres://u:p@127.0.0.1:${await freePort()}/d`;
    await expect(provider.create({ ...declared, ...settings, databaseUrl: nowhere })).rejects.toMatchObject({ code: "INVALID_SETTING" });
  });
});

describeWithPostgres("MetaMcpSettings: a database that cannot be reached or entered", () => {
  const password = "pw-Zq8!never-shown";

  it("nothing listens: read fails at once, create after its wait, both naming host and port, never the password", async () => {
    const port = await freePort();
    const databaseUrl = `postgres://metamcp:${encodeURIComponent(password)}@127.0.0.1:${port}/metamcp_db`;
    const readErr = await failure(readSettings({ kind: "url", databaseUrl }));
    expect(readErr).toMatchObject({ code: "DB_UNREACHABLE" });
    expect(readErr.message).toContain(`cannot connect to PostgreSQL at 127.0.0.1:${port} (database "metamcp_db", user "metamcp") from where Pulumi runs`);
    expect(readErr.message).toMatch(/ECONNREFUSED/);

    const createErr = await failure(provider.create({ maxAttempts: "3", databaseUrl, waitTimeoutMs: 1_500 }));
    expect(createErr).toMatchObject({ code: "TABLE_TIMEOUT" });
    expect(createErr.message).toContain(`Last seen: cannot connect to PostgreSQL at 127.0.0.1:${port}`);
    for (const err of [readErr, createErr]) {
      expect(err.message).not.toContain(password);
      expect(err.message).not.toContain(encodeURIComponent(password));
      expect(err.stack ?? "").not.toContain(password);
    }
  });

  it("a wrong password fails at once as DB_AUTH_FAILED, without the password", async () => {
    const url = new URL(adminUrl());
    url.password = password;
    const started = Date.now();
    const err = await failure(provider.create({ maxAttempts: "3", databaseUrl: url.toString(), waitTimeoutMs: 20_000 }));
    expect(Date.now() - started).toBeLessThan(10_000); // not retried until the wait's end
    expect(err).toMatchObject({ code: "DB_AUTH_FAILED" });
    expect(err.message).toContain(`PostgreSQL at ${url.hostname}:${url.port}`);
    expect(err.message).toMatch(/password authentication failed/);
    expect(err.message).not.toContain(password);
  });

  it("a database that does not exist is named", async () => {
    const url = new URL(adminUrl());
    url.pathname = "/mmg_no_such_database";
    const err = await failure(readSettings({ kind: "url", databaseUrl: url.toString() }));
    expect(err).toMatchObject({ code: "DB_NOT_FOUND" });
    expect(err.message).toContain('database "mmg_no_such_database"');
    expect(err.message).not.toContain(decodeURIComponent(new URL(adminUrl()).password));
  });
});
