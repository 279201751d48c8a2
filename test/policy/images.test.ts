/** Production images are pinned: by digest or an explicit version tag, never latest. */
import { describe, expect, it } from "vitest";
import { imagePin, imageReferenceOf, prodImagesPinned } from "../../policy/images";
import { BUILT_IMAGE, NETWORK } from "../../policy/resources";
import { resource, UNKNOWN_STRING, validateStack } from "./support/harness";
import { builtImage, container, productionContainer, remoteImage } from "./support/fixtures";

const DIGEST = `sha256:${"a".repeat(64)}`;
const messages = (outcome: { violations: { message: string }[] }) => outcome.violations.map((v) => v.message);

describe("prod-images-pinned", () => {
  it("passes a version tag in prod", async () => {
    expect(await validateStack(prodImagesPinned, [remoteImage("ghcr.io/metatool-ai/metamcp:2.4.22")])).toEqual({ violations: [] });
  });

  it("passes a digest in prod", async () => {
    expect(await validateStack(prodImagesPinned, [remoteImage(`ghcr.io/metatool-ai/metamcp@${DIGEST}`)])).toEqual({ violations: [] });
  });

  it("fails latest in prod, naming the image and the stack, reported on the image", async () => {
    const image = remoteImage("ghcr.io/metatool-ai/metamcp:latest");
    expect(await validateStack(prodImagesPinned, [image])).toEqual({
      violations: [
        { message: "image metamcp-image: ghcr.io/metatool-ai/metamcp:latest uses the tag latest; pin it by digest or an explicit version tag in prod.", urn: image.urn },
      ],
    });
  });

  it("fails an untagged image in prod", async () => {
    const outcome = await validateStack(prodImagesPinned, [remoteImage("registry.example:5000/metamcp")]);
    expect(messages(outcome)).toEqual([expect.stringContaining("has no tag, which means latest")]);
  });

  it("fails a container that runs an image by a floating reference, reported on the container", async () => {
    const app = container({ stack: "prod", props: { image: "postgres:alpine" } });
    const outcome = await validateStack(prodImagesPinned, [app]);
    expect(outcome.violations).toEqual([{ message: expect.stringContaining("container app-container (metamcp-prod): postgres:alpine uses the tag alpine"), urn: app.urn }]);
  });

  it("passes a container that runs its RemoteImage by id", async () => {
    expect(await validateStack(prodImagesPinned, [container({ stack: "prod", props: { image: DIGEST } })])).toEqual({ violations: [] });
  });

  it("skips a container image unknown during preview (its RemoteImage is checked)", async () => {
    expect(await validateStack(prodImagesPinned, [container({ stack: "prod", props: { image: UNKNOWN_STRING } })])).toEqual({ violations: [] });
  });

  it("fails an image built on the host under a floating tag", async () => {
    const built = resource({ type: BUILT_IMAGE, name: "monitor-image", stack: "prod", props: { imageName: "metamcp-prod-monitor:latest", skipPush: true } });
    expect(messages(await validateStack(prodImagesPinned, [built]))).toEqual([expect.stringContaining("built image monitor-image: metamcp-prod-monitor:latest uses the tag latest")]);
  });

  it("passes an image built on the host under its build context's hash", async () => {
    const built = resource({ type: BUILT_IMAGE, name: "monitor-image", stack: "prod", props: { imageName: "metamcp-prod-monitor:59cd5f897e3a" } });
    expect(await validateStack(prodImagesPinned, [built])).toEqual({ violations: [] });
  });

  it("judges every image of the stack, and nothing else", async () => {
    const network = resource({ type: NETWORK, name: "backend", stack: "prod", props: { name: "latest" } });
    const floating = [remoteImage("metamcp:latest"), container({ stack: "prod", props: { image: "busybox" } })];
    expect((await validateStack(prodImagesPinned, [network, ...floating])).violations.map((v) => v.urn)).toEqual(floating.map((r) => r.urn));
  });

  it("is not applicable to a stack without images or containers", async () => {
    const network = resource({ type: NETWORK, name: "backend", stack: "prod", props: { name: "latest" } });
    expect((await validateStack(prodImagesPinned, [network])).notApplicable).toBe("the stack declares no images or containers");
  });

  it("does not apply to dev, whose containers do not say it is production", async () => {
    const outcome = await validateStack(prodImagesPinned, [container(), remoteImage("metamcp:latest", "dev")]);
    expect(outcome).toEqual({ violations: [], notApplicable: "dev is not a production stack" });
  });

  it("applies to a stack of any name whose containers carry metamcp-guard.production=true", async () => {
    const outcome = await validateStack(prodImagesPinned, [productionContainer("live"), remoteImage("metamcp:latest", "live")]);
    expect(messages(outcome)).toEqual([expect.stringMatching(/^image metamcp-image: metamcp:latest uses the tag latest; .* in live\.$/)]);
  });

  it("applies to every stack with allStacks", async () => {
    expect((await validateStack(prodImagesPinned, [remoteImage("metamcp:latest", "dev")], { allStacks: true })).violations).toHaveLength(1);
  });

  it("applies to stacks named in productionStacks", async () => {
    expect((await validateStack(prodImagesPinned, [remoteImage("metamcp", "live")], { productionStacks: ["live"] })).violations).toHaveLength(1);
  });

  it("fails a version tag when requireDigest is set", async () => {
    const outcome = await validateStack(prodImagesPinned, [remoteImage("postgres:16.4-alpine")], { requireDigest: true });
    expect(messages(outcome)).toEqual([expect.stringContaining("is not pinned by digest (name@sha256:…) (tag 16.4-alpine)")]);
  });
});

describe("imagePin", () => {
  it.each([
    ["postgres:16.4-alpine", "tag"],
    ["postgres:16-alpine", "tag"],
    ["ghcr.io/metatool-ai/metamcp:v2.4", "tag"],
    ["localhost:5000/metamcp:2.4.22", "tag"],
    [`metamcp:2.4.22@${DIGEST}`, "digest"],
    [DIGEST, "id"],
    ["metamcp-prod-monitor:59cd5f897e3a", "tag"],
  ])("pins %s by %s", (reference, by) => {
    expect(imagePin(reference)).toEqual({ pinned: true, by });
  });

  it.each(["postgres", "postgres:latest", "postgres:alpine", "postgres:stable", "postgres:cafe", "localhost:5000/metamcp", "metamcp:"])("does not pin %s", (reference) => {
    expect(imagePin(reference).pinned).toBe(false);
  });
});

describe("the image a container runs", () => {
  it("is read through its RemoteImage or built Image (containers run an image id), else from its own image", () => {
    const pulled = remoteImage("ghcr.io/metatool-ai/metamcp:2.4.22", "dev");
    const built = builtImage("monitor-image", "metamcp-dev-monitor:0123456789abcdef");
    expect([
      imageReferenceOf(container({ propertyDependencies: { image: [pulled] } })),
      imageReferenceOf(container({ propertyDependencies: { image: [built] } })),
      imageReferenceOf(container({ props: { image: "busybox:1.36" } })),
      imageReferenceOf(container({ props: { image: "sha256:0123" } })),
    ]).toEqual(["ghcr.io/metatool-ai/metamcp:2.4.22", "metamcp-dev-monitor:0123456789abcdef", "busybox:1.36", undefined]);
  });
});
