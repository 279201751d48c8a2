/**
 * Dynamic provider for PostgresCredentials: keeps the password of MetaMCP's role, inside the stack's Postgres, equal
 * to the stack's `postgresPassword`.
 *  - check: refuses a rename of the role or the database at preview (with the steps to do it in place), and a
 *    password the stack cannot hash as PostgreSQL would. `olds` are the inputs the last deployment recorded.
 *  - create/update: wait for Postgres to answer, then ALTER ROLE with the password's SCRAM secret. Create covers the
 *    first deployment onto a volume that already holds data initialised with another password.
 *  - diff: pure; a new password, role, database or container is an in-place update (applied again).
 *  - read: whether the role's stored SCRAM secret is still that of the declared password (computed again with its
 *    salt), so `pulumi preview --refresh` shows a password changed by hand, which the next `up` sets back. When that
 *    cannot be told (Postgres stopped, or the role may not read pg_authid), the recorded state stands; a vanished
 *    container makes the resource vanish (the next up applies the password again).
 *  - delete: leaves the role as it is: it belongs to the data, which outlives the stack's resources.
 *
 * Serialized into the state like PidsLimit's and MetaMcpSettings' providers (see ../dockerEngine/transport.ts):
 * `import type` only from @pulumi/pulumi, the functions copied into the local object `api`.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { isContainerNotFound } from "../dockerEngine/transport";
import { applyPassword, passwordInForce } from "./apply";
import {
  checkCredentialsInputs,
  DEFAULT_WAIT_TIMEOUT_MS,
  diffCredentials,
  type PostgresCredentialsInputs,
  type PostgresCredentialsOutputs,
} from "./credentials";

const api = { applyPassword, checkCredentialsInputs, diffCredentials, isContainerNotFound, passwordInForce };
const defaults = { waitTimeoutMs: DEFAULT_WAIT_TIMEOUT_MS };

/** The resource's id: one role per stack, and the id must never carry the secret. */
const RESOURCE_ID = "postgres-credentials";

export const postgresCredentialsProvider: dynamic.ResourceProvider<PostgresCredentialsInputs, PostgresCredentialsOutputs> = {
  async check(olds: PostgresCredentialsInputs, news: PostgresCredentialsInputs): Promise<dynamic.CheckResult<PostgresCredentialsInputs>> {
    return { inputs: news, failures: api.checkCredentialsInputs(olds ?? {}, news) };
  },

  async diff(_id: string, olds: PostgresCredentialsOutputs, news: PostgresCredentialsInputs): Promise<dynamic.DiffResult> {
    return api.diffCredentials(olds, news);
  },

  async create(inputs: PostgresCredentialsInputs): Promise<dynamic.CreateResult<PostgresCredentialsOutputs>> {
    await api.applyPassword(inputs, inputs.waitTimeoutMs ?? defaults.waitTimeoutMs);
    return { id: RESOURCE_ID, outs: { ...inputs, passwordInForce: true } };
  },

  /** The recorded state, with passwordInForce as the database says now (see the header). */
  async read(id: string, props?: PostgresCredentialsOutputs): Promise<dynamic.ReadResult<PostgresCredentialsOutputs>> {
    if (!props) throw new Error(`PostgresCredentials ${id}: cannot read without the recorded state (import is not supported)`);
    try {
      const inForce = await api.passwordInForce(props);
      return { id, props: inForce === undefined ? props : { ...props, passwordInForce: inForce } };
    } catch (err) {
      if (api.isContainerNotFound(err)) return {}; // no id: the engine drops the resource from the state
      throw err;
    }
  },

  async update(_id: string, _olds: PostgresCredentialsOutputs, news: PostgresCredentialsInputs): Promise<dynamic.UpdateResult<PostgresCredentialsOutputs>> {
    await api.applyPassword(news, news.waitTimeoutMs ?? defaults.waitTimeoutMs);
    return { outs: { ...news, passwordInForce: true } };
  },

  /** Leaves the role and its password as they are (see the header). */
  async delete(): Promise<void> {},
};
