// The provider as Pulumi really runs it: the program loaded with ts-node (CommonJS), @pulumi/pulumi/dynamic
// serializing the provider, and the dynamic-provider host evaluating that text in another process, in the project's
// directory. Here the text is evaluated in a fresh Node process and driven against a real Postgres in a container
// whose data holds another password: check (a rename refused), create, read, diff, update with a new password.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithDocker, docker } from "../support/docker";
import { postgresServerImage } from "../support/images";
import { createTestVolume, describeWithPostgresServer, logIn, removeTestContainersAndVolumes, startPostgres, waitForPostgres, type RunningPostgres } from "../support/postgresServer";
import { LOAD_SERIALIZED_PROVIDER_JS } from "../support/loadSerializedProvider";
import { runNode } from "../support/runNode";

const ROOT = path.resolve(__dirname, "../..");
const HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const PASSWORDS = { initial: "initial-password-012345", deployed: "deployed-password-012345", changed: "changed-password-012345" };

/**
 * Runs in the fresh process: loads the serialized text like the dynamic-provider host
 * (`requireFromString(text).handler()`, module paths from the working directory), then check → create → read →
 * diff → update, and prints what each returned, the password left out.
 */
const DRIVER = `${LOAD_SERIALIZED_PROVIDER_JS}
const { inputs, changed } = JSON.parse(process.env.DRIVER_INPUTS);
(async () => {
  const renamed = await p.check(inputs, { ...inputs, user: "metamcp_app" });
  const check = await p.check({}, inputs);
  const created = await p.create(inputs);
  const diff = await p.diff(created.id, created.outs, changed);
  const read = await p.read(created.id, created.outs);
  const updated = await p.update(created.id, created.outs, changed);
  console.log(JSON.stringify({
    renamed: renamed.failures.map((f) => f.property),
    check: check.failures,
    id: created.id,
    createdSameAsInputs: JSON.stringify(created.outs) === JSON.stringify({ ...inputs, passwordInForce: true }),
    readInForce: read.props.passwordInForce,
    diff,
    updatedSameAsInputs: JSON.stringify(updated.outs) === JSON.stringify({ ...changed, passwordInForce: true }),
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describeWithDocker("PostgresCredentials provider serialized under ts-node, evaluated in a fresh process", () =>
  describeWithPostgresServer("built from Debian's PostgreSQL", () => {
    let tmp: string;
    let pg: RunningPostgres;

    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "credentials-tsnode-"));
      await postgresServerImage();
      const volume = await createTestVolume();
      const earlier = await startPostgres({ volume, user: "metamcp_user", database: "metamcp_db", password: PASSWORDS.initial });
      await waitForPostgres(earlier);
      await docker("rm", "-f", earlier.id);
      pg = await startPostgres({ volume, user: "metamcp_user", database: "metamcp_db", password: PASSWORDS.deployed });
    });
    afterAll(async () => {
      fs.rmSync(tmp, { recursive: true, force: true });
      await removeTestContainersAndVolumes();
    });

    it("sets the password on data that holds another one, and a new one on update", async () => {
      const file = path.join(tmp, "provider.js");
      const summary = JSON.parse(
        await runNode(["test/support/registerTsNodeLikePulumi.js", "test/support/serializeUnderTsNode.ts", file, "PostgresCredentials"], ROOT),
      );
      expect(summary.commonjs).toBe(true);
      const text = fs.readFileSync(file, "utf8");
      expect(text).not.toContain("probe-password-never-serialized");
      // At run time only Node builtins and node-postgres are required (the latter by MetaMcpSettings' runStatements,
      // which this provider shares for the psql path and which also serves external databases): no SDK, no module of
      // the repository.
      const required = new Set([...text.matchAll(/require\("([^"]+)"\)/g)].map((r) => r[1]));
      expect([...required].filter((r) => !r.startsWith("node:"))).toEqual(["pg"]);

      const inputs = {
        dockerHost: HOST, containerId: pg.id, user: pg.user, database: pg.database, password: PASSWORDS.deployed,
        acceptRename: false, postgresContainer: "metamcp-test-postgres", metamcpContainer: "metamcp-test", waitTimeoutMs: 60_000,
      };
      const changed = { ...inputs, password: PASSWORDS.changed };
      expect(await logIn(pg, PASSWORDS.deployed)).toBe("28P01"); // the data still has the initial password
      const result = JSON.parse(await runNode(["-e", DRIVER, file], ROOT, { DRIVER_INPUTS: JSON.stringify({ inputs, changed }) }));
      expect(result).toEqual({
        renamed: ["user"],
        check: [],
        id: "postgres-credentials",
        createdSameAsInputs: true,
        readInForce: true,
        diff: { changes: true, replaces: [], deleteBeforeReplace: false },
        updatedSameAsInputs: true,
      });
      expect(await logIn(pg, PASSWORDS.changed)).toBe("ok");
      expect(await logIn(pg, PASSWORDS.deployed)).toBe("28P01");
    });
  }),
);
