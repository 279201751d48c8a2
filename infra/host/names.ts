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

function sliceStem(slice: string): string {
  if (!/^[a-zA-Z0-9_.:]+(-[a-zA-Z0-9_.:]+)*\.slice$/.test(slice)) {
    throw new Error(`${JSON.stringify(slice)} is not a slice name this program can nest (such as metamcp.slice)`);
  }
  return slice.slice(0, -".slice".length);
}
