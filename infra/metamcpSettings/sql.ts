/**
 * The SQL MetaMcpSettings runs against MetaMCP's `config` table, built by pure functions.
 *
 * A statement is written with the `sql` tag: every `${…}` in it becomes a parameter, never text spliced into the SQL,
 * and the SQL text itself is a constant of this file. A statement list is then rendered for one of the two ways in:
 *  - node-postgres (an external database): `$1, $2…` placeholders and a values array (a parameterised query);
 *  - psql in the Postgres container: `:'p1'` references and `-v p1=value` arguments (psql quotes each value as a
 *    literal when it substitutes it), the script going to psql's stdin.
 * Values are validated (settings.ts) before any statement is built: writeStatements checks them itself.
 *
 * Table and column names are unqualified, as MetaMCP's own queries are: they resolve through the role's
 * search_path exactly as MetaMCP's do, since the stack connects as MetaMCP's role.
 *
 * Pure; part of the serialized provider: the row names are copied into the local object `rows` (an imported binding
 * referenced inside a function would make the serializer capture settings.ts's whole module object).
 */
import { DESCRIPTIONS, MCP_MAX_ATTEMPTS, SESSION_LIFETIME, validSettings, type StoredSettings } from "./settings";

const rows = { sessionLifetime: SESSION_LIFETIME, maxAttempts: MCP_MAX_ATTEMPTS, descriptions: { ...DESCRIPTIONS } };
const checks = { validSettings };

/** SQL text in pieces, with one parameter between each two pieces. */
export interface Statement {
  parts: readonly string[];
  params: readonly string[];
}

/** Tagged template: sql`SELECT ${x}` is the statement "SELECT <parameter 1>" with x as parameter 1 (pure). */
export function sql(parts: TemplateStringsArray, ...params: string[]): Statement {
  return { parts: [...parts], params };
}

/** One statement for node-postgres: `$n` placeholders and the values (pure). */
export function toPgQuery(statement: Statement): { text: string; values: string[] } {
  const text = statement.parts.reduce((acc, part, i) => `${acc}$${i}${part}`);
  return { text, values: [...statement.params] };
}

/**
 * A statement list as one psql script plus its variables (pure): parameter k of the whole list is `:'pk'` in the
 * script and `pk` in the variables. Each statement ends with `;` on its own line.
 */
export function toPsqlScript(statements: readonly Statement[]): { script: string; variables: Record<string, string> } {
  const variables: Record<string, string> = {};
  let n = 0;
  const lines = statements.map((statement) =>
    statement.parts.reduce((acc, part, i) => {
      n += 1;
      variables[`p${n}`] = statement.params[i - 1];
      return `${acc}:'p${n}'${part}`;
    }) + ";",
  );
  return { script: `${lines.join("\n")}\n`, variables };
}

/**
 * The psql command line for a script on stdin (pure): no psqlrc (-X), quiet (no command tags), unaligned tuples
 * only (-A -t: the last SELECT prints just its value), never prompt for a password (-w), stop at the first error
 * (exit 3). User and database come from PGUSER/PGDATABASE (see psqlEnv), not from argv, where psql would read
 * a value starting with postgres:// or holding `=` as a connection string.
 */
export function psqlArgv(variables: Record<string, string>): string[] {
  return [
    "psql", "-X", "-q", "-A", "-t", "-w",
    "-v", "ON_ERROR_STOP=1",
    ...Object.entries(variables).flatMap(([name, value]) => ["-v", `${name}=${value}`]),
  ];
}

/** The environment psql connects with inside the Postgres container: the role and database, nothing else (pure). */
export function psqlEnv(user: string, database: string): string[] {
  return [`PGUSER=${user}`, `PGDATABASE=${database}`];
}

/**
 * Does MetaMCP's table exist yet? Answers the text `true` or `false` (text, so psql and node-postgres print it
 * alike). `to_regclass` resolves the name as MetaMCP's queries do, and answers NULL rather than failing.
 */
export function configTableExists(): Statement {
  return sql`SELECT (to_regclass('config') IS NOT NULL)::text`;
}

/** The managed rows' values as one JSON object text, `{"MCP_MAX_ATTEMPTS": "3", …}`; rows that do not exist are absent. */
export function readRows(ids: readonly [string, string]): Statement {
  return sql`SELECT coalesce(json_object_agg(id, value), '{}')::text FROM config WHERE id IN (${ids[0]}, ${ids[1]})`;
}

/**
 * Insert or update one row as MetaMCP's configRepo.setConfig does (value, description, updated_at), but touching a
 * row only when its value or description differs, so an unchanged setting keeps its updated_at.
 */
export function upsertRow(id: string, value: string, description: string): Statement {
  return sql`INSERT INTO config (id, value, description) VALUES (${id}, ${value}, ${description})
ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, description = EXCLUDED.description, updated_at = now()
WHERE config.value IS DISTINCT FROM EXCLUDED.value OR config.description IS DISTINCT FROM EXCLUDED.description`;
}

/** Remove one row, as MetaMCP's configRepo.deleteConfig does (its way to switch SESSION_LIFETIME off). */
export function deleteRow(id: string): Statement {
  return sql`DELETE FROM config WHERE id = ${id}`;
}

const BEGIN: Statement = sql`BEGIN`;
const COMMIT: Statement = sql`COMMIT`;

/**
 * Writes both settings in one transaction and reads them back (pure): upsert MCP_MAX_ATTEMPTS, upsert or delete
 * SESSION_LIFETIME (absent = no lifetime = no row, as MetaMCP's UI does it), then the read-back as the last
 * statement. The values are validated first: a bad one throws INVALID_SETTING and no statement is built.
 */
export function writeStatements(settings: StoredSettings): Statement[] {
  const valid = checks.validSettings(settings);
  return [
    BEGIN,
    upsertRow(rows.maxAttempts, valid.maxAttempts!, rows.descriptions[rows.maxAttempts]),
    valid.sessionLifetime === undefined
      ? deleteRow(rows.sessionLifetime)
      : upsertRow(rows.sessionLifetime, valid.sessionLifetime, rows.descriptions[rows.sessionLifetime]),
    COMMIT,
    readStatement(),
  ];
}

/** Reads both settings' rows (pure). */
export function readStatement(): Statement {
  return readRows([rows.sessionLifetime, rows.maxAttempts]);
}

/**
 * The read-back's answer (a JSON object text of id → value) as StoredSettings (pure). Anything else means the
 * statements did not run as written: returns undefined, and the caller reports it.
 */
export function parseRows(text: string): StoredSettings | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) return undefined;
  const values = answer as Record<string, unknown>;
  const out: StoredSettings = {};
  for (const [key, id] of [["sessionLifetime", rows.sessionLifetime], ["maxAttempts", rows.maxAttempts]] as const) {
    const value = values[id];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") return undefined;
    out[key] = value;
  }
  return out;
}
