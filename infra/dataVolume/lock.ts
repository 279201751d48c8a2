/**
 * VolumeLock: refuses, at preview, a change of the Postgres data volume's name.
 *
 * A new name (a new `namePrefix`, or `database.volumeName`) makes a new docker.Volume: the old one is
 * kept on the host (retainOnDelete), but Postgres comes back on the new, empty one and MetaMCP starts
 * over with no servers, namespaces or keys. Pulumi would plan that quietly. This resource remembers the
 * name in use, and its `check` (which the engine runs at preview, with the recorded inputs as `olds`)
 * fails on a change unless the stack file says `database.acceptNewVolume: true`.
 *
 * A dynamic provider with no I/O; as with PidsLimit, Pulumi serializes it into the state, so it
 * captures nothing but its own functions.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as dynamic from "@pulumi/pulumi/dynamic";

export interface VolumeLockInputs {
  /** The data volume's name. */
  volumeName: string;
  /** The stack file's `database.acceptNewVolume`: the operator moved the data, or wants an empty database. */
  acceptNewVolume: boolean;
}

/** Why a change of inputs is refused, or undefined (pure). */
export function volumeChangeProblem(olds: Partial<VolumeLockInputs>, news: VolumeLockInputs): string | undefined {
  if (olds.volumeName === undefined || olds.volumeName === news.volumeName || news.acceptNewVolume) return undefined;
  const from = olds.volumeName;
  const to = news.volumeName;
  return (
    `the Postgres data volume would change from "${from}" to "${to}" (a new namePrefix or database.volumeName): ` +
    `Postgres would start on the new, empty volume and MetaMCP would lose its servers, namespaces and API keys ` +
    `("${from}" is kept on the host). To keep the data, stop the stack's containers and copy it first: ` +
    `docker volume create ${to} && docker run --rm -v ${from}:/from:ro -v ${to}:/to <database.image> sh -c 'cp -a /from/. /to/'; ` +
    `then, for that one update, set metamcp-guard:database.acceptNewVolume true. To go back, set the old name again.`
  );
}

export const volumeLockProvider: dynamic.ResourceProvider<VolumeLockInputs, VolumeLockInputs> = {
  async check(olds: VolumeLockInputs, news: VolumeLockInputs): Promise<dynamic.CheckResult<VolumeLockInputs>> {
    const problem = volumeChangeProblem(olds ?? {}, news);
    return { inputs: news, failures: problem ? [{ property: "volumeName", reason: problem }] : [] };
  },
  async diff(_id: string, olds: VolumeLockInputs, news: VolumeLockInputs): Promise<dynamic.DiffResult> {
    return { changes: olds.volumeName !== news.volumeName || olds.acceptNewVolume !== news.acceptNewVolume };
  },
  async create(inputs: VolumeLockInputs): Promise<dynamic.CreateResult<VolumeLockInputs>> {
    return { id: "volume-lock", outs: inputs };
  },
  async update(_id: string, _olds: VolumeLockInputs, news: VolumeLockInputs): Promise<dynamic.UpdateResult<VolumeLockInputs>> {
    return { outs: news };
  },
};

export class VolumeLock extends pulumi.dynamic.Resource {
  declare readonly volumeName: pulumi.Output<string>;

  constructor(name: string, args: VolumeLockInputs, opts?: pulumi.CustomResourceOptions) {
    super(volumeLockProvider, name, { ...args }, opts, "metamcp-guard", "VolumeLock");
  }
}
