/** PostgresCredentials' decisions, pure: the SCRAM secret, the refusals at preview, what is a change, the messages. */
import { describe, expect, it } from "vitest";
import {
  checkCredentialsInputs,
  commandLine,
  diffCredentials,
  isDatabaseMissing,
  isRoleMissing,
  passwordCharactersProblem,
  passwordProblem,
  renameProblem,
  renameSteps,
  roleMissingMessage,
  scramSecret,
  SCRAM_SECRET,
  secretMatches,
  setPasswordStatement,
  timeoutMessage,
  type PostgresCredentialsInputs,
} from "../../infra/postgresCredentials/credentials";
import { containerTarget } from "../../infra/postgresCredentials/apply";
import { psqlArgv, toPsqlScript } from "../../infra/metamcpSettings/sql";
import { UNKNOWN } from "../../infra/metamcpSettings/provider";

const DECLARED: PostgresCredentialsInputs = {
  dockerHost: "unix:///var/run/docker.sock",
  containerId: "c0ffee0123456789",
  user: "metamcp_user",
  database: "metamcp_db",
  password: "0123456789abcdef0123456789abcdef",
  acceptRename: false,
  postgresContainer: "metamcp-dev-postgres",
  metamcpContainer: "metamcp-dev",
};

describe("scramSecret", () => {
  // Each row: what PostgreSQL 15 itself stored (pg_authid.rolpassword) for a password, read back from a server
  // built from Debian's postgresql-15 (test/support/images.ts, postgresServerImage); the salt is taken from it.
  it.each([
    ["an initdb password (--pwfile)", "oldpassword123", "SCRAM-SHA-256$4096:8PBEW/W3d1vjfDyvyxizvA==$Y3drHOCzTGRY3n9kVRX64SG9fX9THBmSda6xKXnZX/Y=:UaU8Tr5t2SaZOt8fQJs0Wxyf1C5jYuQ3cWcS3VMCESc="],
    ["punctuation, a space, quotes, a backslash", `p@ss w0rd'"\\%:/?#~`, "SCRAM-SHA-256$4096:FJtpd7S3s8SY7pblkhtzdA==$bz+1YzwMFNOawNkvSBI043GMwtvmgUBuIqfo4dMuZNE=:BoyvwtgYuvJC63WkyXPAT8Y1j7fRszOFYbya2G/M3AQ="],
    ["a long generated one", "openssl-rand-hex-24-0123456789abcdef0123456789abcdef", "SCRAM-SHA-256$4096:KWVsGYhB9m9JNmArdR1QpA==$hbugw//R9w5ZtkHQ8mwbf5lAyAYgEf9OzHM7iX79wvo=:J+oEO3gONHJ28o1S+Le/ywBRnOg/LOqJKGf+8GP18gc="],
  ])("is what PostgreSQL stores: %s", (_label, password, stored) => {
    const [, iterations, salt] = stored.match(/^SCRAM-SHA-256\$(\d+):([^$]+)\$/)!;
    expect(scramSecret(password, Buffer.from(salt, "base64"), Number(iterations))).toBe(stored);
  });

  it("differs with the salt", () => {
    expect(scramSecret("samepassword12", Buffer.alloc(16, 1))).not.toBe(scramSecret("samepassword12", Buffer.alloc(16, 2)));
  });

  it("never contains the password", () => {
    expect(scramSecret("visible-password-1", Buffer.alloc(16, 7))).not.toContain("visible-password-1");
  });

  it("has the form PostgreSQL recognises as a SCRAM secret (else it would hash it again as a password)", () => {
    expect(scramSecret("any-password-12", Buffer.alloc(16, 3))).toMatch(SCRAM_SECRET);
  });
});

describe("secretMatches", () => {
  const stored = "SCRAM-SHA-256$4096:8PBEW/W3d1vjfDyvyxizvA==$Y3drHOCzTGRY3n9kVRX64SG9fX9THBmSda6xKXnZX/Y=:UaU8Tr5t2SaZOt8fQJs0Wxyf1C5jYuQ3cWcS3VMCESc=";

  it.each<[string, string, string, boolean]>([
    ["PostgreSQL's secret for the password", stored, "oldpassword123", true],
    ["the same secret, another password", stored, "oldpassword124", false],
    ["a secret computed with other iterations", scramSecret("oldpassword123", Buffer.alloc(16, 1), 8192), "oldpassword123", true],
    ["an MD5 hash (not what the stack sets)", "md5" + "0".repeat(32), "oldpassword123", false],
    ["no password at all", "", "oldpassword123", false],
    ["a secret with a broken salt", "SCRAM-SHA-256$4096:!!$a:b", "oldpassword123", false],
  ])("%s", (_label, secret, password, matches) => {
    expect(secretMatches(secret, password)).toBe(matches);
  });
});

describe("passwordProblem", () => {
  it.each<[string, unknown, boolean]>([
    ["hex from openssl", "9f86d081884c7d659a2feaa0c55ad015", true],
    ["every printable ASCII character", Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join(""), true],
    ["an accented letter (SASLprep keeps it, but normalises its forms)", "pässwörd-1234", false],
    ["a no-break space (SASLprep maps it to a space)", "pass\u00a0word-1234", false],
    ["a soft hyphen (SASLprep removes it)", "pass\u00adword-1234", false],
    ["an emoji", "password-1234-🔑", false],
    ["a tab", "pass\tword-1234", false],
    ["empty", "", false],
    ["not text", 42, false],
  ])("%s", (_label, password, accepted) => {
    expect(passwordProblem(password) === undefined).toBe(accepted);
  });

  it("names the setting and what to use, never the value", () => {
    const problem = passwordProblem("geheimnis-ä-1234")!;
    expect(problem).toMatch(/^password \(postgresPassword\) holds characters outside printable ASCII/);
    expect(problem).toMatch(/openssl rand -hex 24/);
    expect(problem).not.toContain("geheimnis");
  });

  it("is the config's rule too, without the key (the config names it)", () => {
    expect(passwordCharactersProblem("geheimnis-ä-1234")).toMatch(/^holds characters outside printable ASCII/);
  });
});

describe("setPasswordStatement", () => {
  const secret = scramSecret("a-password-12345", Buffer.alloc(16, 9));

  it("sets the connected role's password to the secret", () => {
    expect(toPsqlScript([setPasswordStatement(secret)]).script).toBe(`ALTER ROLE CURRENT_USER PASSWORD '${secret}';\n`);
  });

  it("puts nothing in psql's argv: the secret is in the script, which goes to stdin", () => {
    const argv = psqlArgv(toPsqlScript([setPasswordStatement(secret)]).variables);
    expect(argv.join(" ")).not.toContain(secret.split("$")[2]);
    expect(argv).toEqual(["psql", "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"]);
  });

  it.each([
    ["a plain password", "a-password-12345"],
    ["a secret with a quote in it", `${secret}'; DROP ROLE x; --`],
    ["an MD5 hash", "md5" + "0".repeat(32)],
  ])("refuses %s, without quoting it", (_label, value) => {
    expect(() => setPasswordStatement(value)).toThrow(/^setPasswordStatement: not a SCRAM-SHA-256 secret \(the value is not shown\)$/);
  });
});

describe("renameProblem", () => {
  it.each<[string, Partial<PostgresCredentialsInputs>, Partial<PostgresCredentialsInputs>, string | undefined]>([
    ["the first deployment (nothing recorded)", {}, {}, undefined],
    ["the same names", DECLARED, {}, undefined],
    ["a new password only", DECLARED, { password: "another-password-1" }, undefined],
    ["a new container only", DECLARED, { containerId: "beef" }, undefined],
    ["a new role", DECLARED, { user: "metamcp_app" }, "user"],
    ["a new database", DECLARED, { database: "metamcp" }, "database"],
    ["both", DECLARED, { user: "metamcp_app", database: "metamcp" }, "user"],
    ["a new role the stack file accepts", DECLARED, { user: "metamcp_app", acceptRename: true }, undefined],
    ["a new database the stack file accepts", DECLARED, { database: "metamcp", acceptRename: true }, undefined],
  ])("%s", (_label, olds, change, refusedOn) => {
    expect(renameProblem(olds, { ...DECLARED, ...change })?.property).toBe(refusedOn);
  });

  describe("the message for a new role", () => {
    const reason = renameProblem(DECLARED, { ...DECLARED, user: "metamcp_app" })!.reason;

    it("names the key, both names and why it would break", () => {
      expect(reason).toMatch(/^database\.user would change from "metamcp_user" to "metamcp_app", but Postgres .* applies POSTGRES_USER and POSTGRES_DB only to an empty one: MetaMCP would fail to log in/);
    });

    it("gives the commands, run against the stack's Postgres container", () => {
      expect(reason).toContain(`1. docker exec metamcp-dev-postgres psql -U metamcp_user -d postgres -c 'CREATE ROLE metamcp_guard_rename SUPERUSER LOGIN'`);
      expect(reason).toContain(`2. docker exec metamcp-dev-postgres psql -U metamcp_guard_rename -d postgres -c 'ALTER ROLE "metamcp_user" RENAME TO "metamcp_app"'`);
      expect(reason).toContain(`3. docker exec metamcp-dev-postgres psql -U metamcp_app -d postgres -c 'DROP ROLE metamcp_guard_rename'`);
    });

    it("says how to go ahead, and how to go back", () => {
      expect(reason).toMatch(/set metamcp-guard:database\.acceptRename true \(and back to false afterwards\)/);
      expect(reason).toMatch(/set database\.user back to "metamcp_user"\.$/);
    });
  });

  it("for a new database, stops MetaMCP first (a database in use cannot be renamed), then renames", () => {
    const reason = renameProblem(DECLARED, { ...DECLARED, database: "metamcp" })!.reason;
    expect(reason).toMatch(/^database\.name would change from "metamcp_db" to "metamcp"/);
    expect(reason).toContain("1. docker stop metamcp-dev");
    expect(reason).toContain(`2. docker exec metamcp-dev-postgres psql -U metamcp_user -d postgres -c 'ALTER DATABASE "metamcp_db" RENAME TO "metamcp"'`);
  });

  it("for both, names both and renames the database as the renamed role", () => {
    const reason = renameProblem(DECLARED, { ...DECLARED, user: "metamcp_app", database: "metamcp" })!.reason;
    expect(reason).toMatch(/database\.user would change .* and database\.name would change/);
    expect(reason).toContain(`5. docker exec metamcp-dev-postgres psql -U metamcp_app -d postgres -c 'ALTER DATABASE "metamcp_db" RENAME TO "metamcp"'`);
  });
});

describe("renameSteps", () => {
  const change = { from: { user: "a", database: "d" }, to: { user: "b", database: "e" }, postgresContainer: "pg", metamcpContainer: "app" };

  it("renames the role before the database, and drops its helper role before stopping MetaMCP", () => {
    expect(renameSteps(change).map((s) => s.argv.slice(0, 6).join(" "))).toEqual([
      "docker exec pg psql -U a",
      "docker exec pg psql -U metamcp_guard_rename",
      "docker exec pg psql -U b",
      "docker stop app",
      "docker exec pg psql -U b",
    ]);
  });

  it("is empty when nothing is renamed", () => {
    expect(renameSteps({ ...change, to: change.from })).toEqual([]);
  });
});

describe("commandLine", () => {
  it.each([
    ["plain words as they are", ["docker", "stop", "metamcp-dev"], "docker stop metamcp-dev"],
    ["SQL with spaces and double quotes in one single-quoted word", ["psql", "-c", 'ALTER ROLE "a" RENAME TO "b"'], `psql -c 'ALTER ROLE "a" RENAME TO "b"'`],
    ["a single quote closed, escaped and reopened", ["echo", "it's"], `echo 'it'\\''s'`],
  ])("%s", (_label, argv, line) => {
    expect(commandLine(argv)).toBe(line);
  });
});

describe("checkCredentialsInputs", () => {
  it("accepts the declared inputs", () => {
    expect(checkCredentialsInputs({}, DECLARED)).toEqual([]);
  });

  it.each<[string, Partial<Record<keyof PostgresCredentialsInputs, unknown>>, string]>([
    ["an empty container id", { containerId: "" }, "containerId"],
    ["a bad Docker host", { dockerHost: "docker.example.com" }, "dockerHost"],
    ["a role name longer than PostgreSQL keeps", { user: "u".repeat(64) }, "user"],
    ["a password PostgreSQL would normalise", { password: "pässwörd-12345" }, "password"],
    ["acceptRename that is not a flag", { acceptRename: "yes" }, "acceptRename"],
    ["a wait of no time", { waitTimeoutMs: 0 }, "waitTimeoutMs"],
    ["an ssh:// Docker host without its pinned key", { dockerHost: "ssh://deploy@db.example.internal" }, "hostKey"],
    ["a pinned key that is not one", { dockerHost: "ssh://deploy@db.example.internal", hostKey: "not a key" }, "hostKey"],
  ])("refuses %s", (_label, change, property) => {
    const failures = checkCredentialsInputs({}, { ...DECLARED, ...change } as PostgresCredentialsInputs);
    expect(failures.map((f) => f.property)).toEqual([property]);
  });

  it("does not judge values a preview does not know yet (the id of a container it will replace)", () => {
    expect(checkCredentialsInputs({}, { ...DECLARED, containerId: UNKNOWN, password: UNKNOWN })).toEqual([]);
  });

  it("refuses a rename against the recorded inputs", () => {
    expect(checkCredentialsInputs(DECLARED, { ...DECLARED, user: "other" }).map((f) => f.property)).toEqual(["user"]);
  });

  it("never quotes the password in a failure", () => {
    const failures = checkCredentialsInputs({}, { ...DECLARED, password: "secret-ü-password" });
    expect(JSON.stringify(failures)).not.toContain("secret-");
  });
});

describe("diffCredentials", () => {
  it.each<[string, Partial<PostgresCredentialsInputs>, boolean]>([
    ["nothing", {}, false],
    ["the password", { password: "another-password-1" }, true],
    ["the Postgres container (replaced: it may sit on data with another password)", { containerId: "beef" }, true],
    ["the role (accepted)", { user: "other", acceptRename: true }, true],
    ["the database (accepted)", { database: "other", acceptRename: true }, true],
    ["the Docker host", { dockerHost: "ssh://deploy@db-host" }, true],
    ["acceptRename alone", { acceptRename: true }, false],
    ["the container names alone (a new namePrefix)", { postgresContainer: "x-postgres", metamcpContainer: "x" }, false],
    ["the wait alone", { waitTimeoutMs: 5_000 }, false],
  ])("%s", (_label, change, changes) => {
    expect(diffCredentials({ ...DECLARED, passwordInForce: true }, { ...DECLARED, ...change })).toEqual({ changes, replaces: [], deleteBeforeReplace: false });
  });

  it("a password refresh found changed by hand, nothing else different: an update sets it back", () => {
    expect(diffCredentials({ ...DECLARED, passwordInForce: false }, DECLARED).changes).toBe(true);
  });

  it("a state from before refresh could tell (no passwordInForce): no change", () => {
    expect(diffCredentials(DECLARED, DECLARED).changes).toBe(false);
  });
});

describe("psql's connection errors", () => {
  const socket = 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed:';
  it.each([
    ["no such role", `${socket} FATAL:  role "metamcp_app" does not exist`, true, false],
    ["no such database", `${socket} FATAL:  database "metamcp" does not exist`, false, true],
    ["not up yet", `${socket} No such file or directory\n\tIs the server running locally and accepting connections on that socket?`, false, false],
    ["starting", `${socket} FATAL:  the database system is starting up`, false, false],
  ])("%s", (_label, message, role, database) => {
    expect([isRoleMissing(message), isDatabaseMissing(message)]).toEqual([role, database]);
  });
});

describe("messages at apply time", () => {
  const where = 'database "metamcp_db" (user "metamcp_app") in container c0ffee012345 on unix:///var/run/docker.sock';

  it("a missing role: says why, and how to rename the role the data has", () => {
    const message = roleMissingMessage(where, { ...DECLARED, user: "metamcp_app" });
    expect(message).toMatch(/the data volume has no role "metamcp_app"\. It was initialised with another database\.user/);
    expect(message).toContain(`psql -U metamcp_guard_rename -d postgres -c 'ALTER ROLE "OLD_ROLE" RENAME TO "metamcp_app"'`);
  });

  it("a timeout: names the wait, where to look and what was seen last", () => {
    const message = timeoutMessage(where, 180_000, "psql could not connect: the database system is starting up", DECLARED);
    expect(message).toMatch(/did not accept psql's connection within 180 s\. .*docker logs metamcp-dev-postgres\. Last seen: .*starting up$/);
  });

  it("a timeout on a missing database: also how to rename the database the data has", () => {
    const message = timeoutMessage(where, 10_000, 'FATAL:  database "metamcp_db" does not exist', DECLARED);
    expect(message).toMatch(/The data volume has no database "metamcp_db"/);
    expect(message).toContain(`'ALTER DATABASE "OLD_DATABASE" RENAME TO "metamcp_db"'`);
  });
});

describe("containerTarget", () => {
  it("carries the pinned host key for an ssh:// Docker host", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq1k7Fcd6GWZ2b3dx4UNvmOYF0wqQF5wKnt5rZfDnDa";
    expect(containerTarget({ ...DECLARED, dockerHost: "ssh://deploy@h", hostKey: key })).toMatchObject({ dockerHost: "ssh://deploy@h", hostKey: key });
  });

  it("is the way into the container MetaMcpSettings uses, with no password", () => {
    expect(containerTarget(DECLARED)).toEqual({
      kind: "container",
      dockerHost: DECLARED.dockerHost,
      containerId: DECLARED.containerId,
      user: "metamcp_user",
      database: "metamcp_db",
    });
  });
});
