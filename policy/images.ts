/**
 * Production runs images it can name exactly: a digest or an explicit version tag. `latest` (or
 * no tag, which means latest) changes under a running stack on the next pull, so a restart or a
 * re-create could bring up a MetaMCP nobody reviewed, with other leaks and other limits needs.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { IMAGE_DEFAULTS, IMAGE_SCHEMA, productionStackOrNotApplicable, settingsOf } from "./config";
import {
  BUILT_IMAGE,
  CONTAINER,
  type ContainerProps,
  dependenciesThrough,
  describeContainer,
  known,
  REMOTE_IMAGE,
  UNKNOWN,
} from "./resources";

export type ImagePin =
  | { pinned: true; by: "digest" | "tag" | "id" }
  | { pinned: false; reason: string };

const DIGEST = /@sha256:[0-9a-f]{64}$/;
/** A tag that starts with a version number: 2.4.22, 16.4-alpine, v1.2, 20240501. */
const VERSION_TAG = /^v?\d+([._-][A-Za-z0-9]+)*$/;
/**
 * A tag that names content: a commit or a build-context hash (the monitor image the stack builds
 * is tagged with its context's hash), which changes whenever what is in the image changes.
 */
const CONTENT_TAG = /^[0-9a-f]{7,64}$/;

/**
 * How an image reference is pinned: by digest, by a version tag, or by a tag that names content. The tag is what follows the last colon of the last path
 * segment: in `registry:5000/app` the colon belongs to the registry's port.
 */
export function imagePin(reference: string, requireDigest = false): ImagePin {
  // An image id (what a container gets from RemoteImage.imageId) is content-addressed; the
  // RemoteImage it came from has its own reference checked.
  if (reference.startsWith("sha256:")) return { pinned: true, by: "id" };
  if (DIGEST.test(reference)) return { pinned: true, by: "digest" };
  const last = reference.slice(reference.lastIndexOf("/") + 1);
  const colon = last.indexOf(":");
  const tag = colon >= 0 ? last.slice(colon + 1).replace(/@.*$/, "") : undefined;
  if (requireDigest) return { pinned: false, reason: `is not pinned by digest (name@sha256:…)${tag ? ` (tag ${tag})` : ""}` };
  if (tag === undefined || tag === "") return { pinned: false, reason: "has no tag, which means latest" };
  if (tag === "latest") return { pinned: false, reason: "uses the tag latest" };
  if (!VERSION_TAG.test(tag) && !CONTENT_TAG.test(tag)) return { pinned: false, reason: `uses the tag ${tag}, which is not a version` };
  return { pinned: true, by: "tag" };
}

/** The repository of an image reference: without its digest and tag (`registry:5000/app:1` is `registry:5000/app`). */
export function repositoryOf(reference: string): string {
  const withoutDigest = reference.replace(/@.*$/, "");
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", slash + 1);
  return colon >= 0 ? withoutDigest.slice(0, colon) : withoutDigest;
}

/**
 * The image reference a container runs: its image resource's (the stack's containers take an
 * image id, `sha256:…`, from a RemoteImage or a built Image, so the reference lives there), or the
 * container's own `image` when it names one. Undefined while unknown.
 */
export function imageReferenceOf(container: PolicyResource): string | undefined {
  for (const source of dependenciesThrough(container, "image")) {
    const reference = source.type === REMOTE_IMAGE ? known(() => source.props.name) : source.type === BUILT_IMAGE ? known(() => source.props.imageName) : undefined;
    if (typeof reference === "string") return reference;
  }
  const own = known(() => (container.props as ContainerProps).image);
  return typeof own === "string" && !own.startsWith("sha256:") ? own : undefined;
}

/** Where each judged resource type keeps its image reference, and how messages name it. */
const IMAGE_REFERENCES: Record<string, { read: (props: Record<string, any>) => unknown; describe: (props: Record<string, any>, name: string) => string }> = {
  [REMOTE_IMAGE]: { read: (props) => props.name, describe: (_, name) => `image ${name}` },
  [BUILT_IMAGE]: { read: (props) => props.imageName, describe: (_, name) => `built image ${name}` },
  [CONTAINER]: { read: (props) => props.image, describe: (props, name) => `container ${describeContainer(props as ContainerProps, name)}` },
};

/**
 * A stack policy, though it judges each image alone: whether the stack is production is read off
 * its containers' labels, which a resource policy on a RemoteImage cannot see.
 */
export const prodImagesPinned: StackValidationPolicy = {
  name: "prod-images-pinned",
  description:
    "In production, every image (RemoteImage name, built Image name, container image) is pinned by digest or an explicit version tag, never latest.",
  enforcementLevel: "mandatory",
  configSchema: IMAGE_SCHEMA,
  validateStack: (args, report) => {
    const settings = settingsOf(args, IMAGE_DEFAULTS);
    const images = args.resources.filter((r) => IMAGE_REFERENCES[r.type]);
    if (images.length === 0) args.notApplicable("the stack declares no images or containers");
    const stack = productionStackOrNotApplicable(args, settings);
    for (const target of images) {
      const image = IMAGE_REFERENCES[target.type];
      // A container's image is unknown during preview until its image resource exists; that
      // resource's own reference is known and checked.
      const reference = known(() => image.read(target.props));
      if (reference === UNKNOWN || typeof reference !== "string") continue;
      const pin = imagePin(reference, settings.requireDigest);
      if (!pin.pinned) {
        report(`${image.describe(target.props, target.name)}: ${reference} ${pin.reason}; pin it by digest or an explicit version tag in ${stack}.`, target.urn);
      }
    }
  },
};

export const imagePolicies = [prodImagesPinned];
