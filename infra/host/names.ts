/**
 * Slice names and the cgroupParent each container gets. Pure: the same names are used by the
 * unit files, the scripts, the containers and the drift check.
 */
import type { Role } from "../containerSettings";

export type CgroupDriver = "systemd" | "cgroupfs";

/** The containers a stack may run, in the order slices are declared. */
export const ROLES: readonly Role[] = ["app", "db", "monitor", "guard"];

/**
 * `metamcp-app.slice` for parent `metamcp.slice`: systemd nests a slice under the one named
 * by its name up to the last dash, so the child lands inside the parent by its name alone.
 */
export function childSliceName(parent: string, role: Role): string {
  return `${sliceStem(parent)}-${role}.slice`;
}

/**
 * The cgroup path systemd gives a slice: every dash-prefix is an ancestor, so `a-b-c.slice`
 * lives at `/a.slice/a-b.slice/a-b-c.slice`. (This is what the cgroupfs driver needs.)
 */
export function sliceCgroupPath(slice: string): string {
  const parts = sliceStem(slice).split("-");
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join("-")}.slice`).join("");
}

/**
 * What a container's `cgroupParent` must be to run inside `slice`. Docker's systemd driver
 * takes the slice name and asks systemd to create the container's scope in it; the cgroupfs
 * driver takes a cgroup path and makes the container's cgroup a child of the slice's, whose
 * limits then bind it as well (cgroup limits are hierarchical).
 */
export function cgroupParentFor(slice: string, driver: CgroupDriver): string {
  return driver === "systemd" ? slice : sliceCgroupPath(slice);
}

/**
 * Top-level slice names systemd and its tools own: `-.slice` (the root), `system.slice` (every service,
 * Docker's own default parent), `user.slice` (logins, `user-1000.slice`), `machine.slice` (VMs and
 * containers of systemd-machined), `capsule.slice` (systemd 256's capsules), and `init.scope`'s name. A slice
 * named `system-x.slice` nests in system.slice by systemd's dash rule, so the first part decides.
 */
export const SYSTEMD_OWNED = ["system", "user", "machine", "capsule", "init"] as const;

/** The stack's parent slice when `host.slices.parent` is unset: `<namePrefix>.slice` (pure). */
export function defaultParentSlice(namePrefix: string): string {
  return `${namePrefix}.slice`;
}

/** The settings a slice's ownership is judged by; a StackConfig is one. */
export interface SliceOwnership {
  namePrefix: string;
  /** host.slices.parent as written (undefined when the stack file leaves it out). */
  parentAsWritten: string | undefined;
}

/**
 * Why the stack may not write its slices where its settings say, one problem per key (pure). A stack owns
 * `<namePrefix>.slice` and the slices below it by name (`<namePrefix>-<anything>.slice`), and nothing else: not
 * systemd's own slices, whose limits would cap dockerd, sshd and journald with it, nor another stack's.
 */
export function sliceOwnershipProblems({ namePrefix, parentAsWritten }: SliceOwnership): Array<{ key: string; message: string }> {
  const own = defaultParentSlice(namePrefix);
  const allowed = `${own} or ${namePrefix}-<name>.slice`;
  const problems: Array<{ key: string; message: string }> = [];
  const top = namePrefix.split("-")[0];
  if ((SYSTEMD_OWNED as readonly string[]).includes(top)) {
    problems.push({
      key: "namePrefix",
      message:
        `${JSON.stringify(namePrefix)} would put the stack's slices (${own}) inside systemd's own ${top}.slice; ` +
        `the first part of a prefix may not be ${SYSTEMD_OWNED.join(", ")} (choose another, such as metamcp-${namePrefix})`,
    });
  }
  if (parentAsWritten !== undefined) {
    const stem = parentAsWritten.slice(0, -".slice".length);
    const ours = parentAsWritten === own || (stem.startsWith(`${namePrefix}-`) && stem.length > namePrefix.length + 1);
    if (!ours) {
      problems.push({
        key: "host.slices.parent",
        message:
          `${JSON.stringify(parentAsWritten)} is not a slice of this stack; allowed: ${allowed} (the namePrefix names every ` +
          "unit the stack writes, so it never caps, rewrites or removes a slice it did not create), or leave it out",
      });
    }
  }
  return problems;
}

function sliceStem(slice: string): string {
  if (!/^[a-zA-Z0-9_.:]+(-[a-zA-Z0-9_.:]+)*\.slice$/.test(slice)) {
    throw new Error(`${JSON.stringify(slice)} is not a slice name this program can nest (such as metamcp.slice)`);
  }
  return slice.slice(0, -".slice".length);
}
