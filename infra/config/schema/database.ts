/** Settings of MetaMCP's Postgres (`metamcp-guard:database`). */
import { z } from "zod";
import { dockerName, flag, imageRef, restartPolicy, strictObject } from "./fields";
import { limitsWithDefaults } from "./limits";

export const DEFAULT_POSTGRES_IMAGE = "postgres:16-alpine";

export const databaseSchema = strictObject({
  /**
   * `internal` runs Postgres in the stack; `external` uses the `databaseUrl` secret and
   * declares no database container.
   */
  mode: z.enum(["internal", "external"], { message: "is not a database mode; allowed: internal, external" }).default("internal"),
  image: imageRef.default(DEFAULT_POSTGRES_IMAGE),
  limits: limitsWithDefaults({ memory: "512m", cpus: 0.5, pids: 100 }),
  restart: restartPolicy.default("unless-stopped"),
  /** The data volume; it outlives containers, and with protectData also the stack. */
  volumeName: dockerName.optional(),
  /**
   * A change of the data volume's name is refused at preview (Postgres would start on an empty volume);
   * true lets it through, for the one update after the data was copied over (infra/dataVolume/lock.ts).
   */
  acceptNewVolume: flag.default(false),
  /**
   * A change of `user` or `name` is refused at preview (Postgres applies them only to an empty volume, so MetaMCP
   * could not log in); true lets it through, for the one update after the role or database was renamed in place
   * (infra/postgresCredentials/credentials.ts gives the steps).
   */
  acceptRename: flag.default(false),
  user: z.string().regex(/^[a-z_][a-z0-9_]*$/, { message: "is not a Postgres role name" }).default("metamcp_user"),
  name: z.string().regex(/^[a-z_][a-z0-9_]*$/, { message: "is not a Postgres database name" }).default("metamcp_db"),
});

export type DatabaseConfig = z.output<typeof databaseSchema>;
