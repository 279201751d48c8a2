/**
 * Production's Postgres data survives anything Pulumi does: its volume is `protect`ed, so
 * `pulumi destroy` or a refactor that renames the volume stops instead of deleting MetaMCP's
 * configuration, users and API keys.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { productionStackOrNotApplicable, settingsOf, VOLUME_DEFAULTS, VOLUME_SCHEMA } from "./config";
import { CONTAINER, type ContainerProps, describeContainer, known, roleOf, UNKNOWN, VOLUME } from "./resources";

/**
 * The volumes a container keeps data on: named volumes its mounts (or volumes) name, and those
 * its mounts depend on (the name can be unknown during preview; the dependency never is).
 */
export function volumesMountedBy(container: PolicyResource, resources: PolicyResource[]): PolicyResource[] {
  const props = container.props as ContainerProps;
  const names = new Set<string>();
  const mounts = known(() => props.mounts ?? []);
  if (mounts !== UNKNOWN) {
    for (const mount of mounts) {
      const source = known(() => mount.source);
      if (known(() => mount.type) === "volume" && typeof source === "string") names.add(source);
    }
  }
  const volumes = known(() => props.volumes ?? []);
  if (volumes !== UNKNOWN) {
    for (const volume of volumes) {
      const name = known(() => volume.volumeName);
      if (typeof name === "string") names.add(name);
    }
  }
  const viaDependency = new Set([...(container.propertyDependencies.mounts ?? []), ...(container.propertyDependencies.volumes ?? [])]);
  return resources.filter((r) => {
    if (r.type !== VOLUME) return false;
    const name = known(() => r.props.name);
    return viaDependency.has(r) || (typeof name === "string" && names.has(name));
  });
}

export const prodPostgresVolumeProtected: StackValidationPolicy = {
  name: "prod-postgres-volume-protected",
  description: "In production, the Postgres container (role db) keeps its data on a named volume that is protected.",
  enforcementLevel: "mandatory",
  configSchema: VOLUME_SCHEMA,
  validateStack: (args, report) => {
    const settings = settingsOf(args, VOLUME_DEFAULTS);
    const databases = args.resources.filter((r) => r.type === CONTAINER && roleOf(r.props as ContainerProps) === "db");
    if (databases.length === 0) args.notApplicable("the stack runs no Postgres container (external database)");
    const stack = productionStackOrNotApplicable(args, settings);
    for (const db of databases) {
      const name = describeContainer(db.props as ContainerProps, db.name);
      const volumes = volumesMountedBy(db, args.resources);
      if (volumes.length === 0) {
        report(`${name} mounts no named volume: its data lives in the container and goes with it.`, db.urn);
      }
      for (const volume of volumes.filter((v) => !v.opts.protect)) {
        report(`volume ${volume.name}, Postgres's data in ${stack}, is not protected; declare it with protect: true.`, volume.urn);
      }
    }
  },
};

export const dataPolicies = [prodPostgresVolumeProtected];
