/**
 * Dynamic provider for PostgresCredentials: keeps the password of MetaMCP's role, inside the stack's Postgres, equal
 * to the stack's `postgresPassword`.
 *  - check: refuses a rename of the role or the database at preview (with the steps to do it in place), and a
 *    password the stack cannot hash as PostgreSQL would. `olds` are the inputs the last deployment recorded.
 *  - create/update: wait for Postgres to answer, then ALTER ROLE with the password's SCRAM secret. Create covers the
 *    first deployment onto a volume that already holds data initialised with another password.
 *  - diff: pure; a new password, role, database or container is an in-place update (applied again).
 *  - read: none; the engine keeps the recorded state (PostgreSQL shows no password back, only its verifier).
 *  - delete: leaves the role as it is: it belongs to the data, which outlives the stack's resources.
 *
 * Serialized into the state like PidsLimit's and MetaMcpSettings' providers (see ../dockerEngine/transport.ts):
 * `import type` only from @pulumi/pulumi, the functions copied into the local object `api`.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { applyPassword } from "./apply";
import { checkCredentialsInputs, DEFAULT_WAIT_TIMEOUT_MS, diffCredentials, type PostgresCredentialsInputs } from "./credentials";

const api = { applyPassword, checkCredentialsInputs, diffCredentials };
const defaults = { waitTimeoutMs: DEFAULT_WAIT_TIMEOUT_MS };

/** The resource's id: one role per stack, and the id must never carry the secret. */
const RESOURCE_ID = "postgres-credentials";

export const postgresCredentialsProvider: dynamic.ResourceProvider<PostgresCredentialsInputs, PostgresCredentialsInputs> = {
  async check(olds: PostgresCredentialsInputs, news: PostgresCredentialsInputs): Promise<dynamic.CheckResult<PostgresCredentialsInputs>> {
    return { inputs: news, failures: api.checkCredentialsInputs(olds ?? {}, news) };
  },

  async diff(_id: string, olds: PostgresCredentialsInputs, news: PostgresCredentialsInputs): Promise<dynamic.DiffResult> {
    return api.diffCredentials(olds, news);
  },

  async create(inputs: PostgresCredentialsInputs): Promise<dynamic.CreateResult<PostgresCredentialsInputs>> {
    await api.applyPassword(inputs, inputs.waitTimeoutMs ?? defaults.waitTimeoutMs);
    return { id: RESOURCE_ID, outs: inputs };
  },

  async update(_id: string, _olds: PostgresCredentialsInputs, news: PostgresCredentialsInputs): Promise<dynamic.UpdateResult<PostgresCredentialsInputs>> {
    await api.applyPassword(news, news.waitTimeoutMs ?? defaults.waitTimeoutMs);
    return { outs: news };
  },

  /** Leaves the role and its password as they are (see the header). */
  async delete(): Promise<void> {},
};
