/** VolumeLock: a rename of the Postgres data volume is refused at preview unless the stack file accepts it. */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { VolumeLock, volumeChangeProblem, volumeLockProvider } from "../../infra/dataVolume/lock";
import { loadSerializedProvider } from "../support/loadSerializedProvider";

describe("volumeChangeProblem", () => {
  const olds = { volumeName: "metamcp-dev-pgdata", acceptNewVolume: false };

  it.each<[string, Partial<typeof olds>, typeof olds, boolean]>([
    ["the first deployment (nothing recorded)", {}, olds, false],
    ["the same name", olds, olds, false],
    ["a new name", olds, { volumeName: "metamcp-staging-pgdata", acceptNewVolume: false }, true],
    ["a new name the stack file accepts", olds, { volumeName: "metamcp-staging-pgdata", acceptNewVolume: true }, false],
  ])("%s", (_label, before, after, refused) => {
    expect(volumeChangeProblem(before, after) !== undefined).toBe(refused);
  });

  it("names both volumes, what would be lost, how to copy the data and how to go ahead", () => {
    const problem = volumeChangeProblem(olds, { volumeName: "x-pgdata", acceptNewVolume: false })!;
    expect(problem).toMatch(/from "metamcp-dev-pgdata" to "x-pgdata"/);
    expect(problem).toMatch(/empty volume/);
    expect(problem).toMatch(/-v metamcp-dev-pgdata:\/from:ro -v x-pgdata:\/to/);
    expect(problem).toMatch(/metamcp-guard:database.acceptNewVolume true/);
  });

  it("is what the provider's check reports, on the volumeName property", async () => {
    const result = await volumeLockProvider.check!(olds, { volumeName: "x-pgdata", acceptNewVolume: false });
    expect(result.failures?.map((f) => f.property)).toEqual(["volumeName"]);
  });
});

describe("VolumeLock as Pulumi serializes it (vitest)", () => {
  let provider: pulumi.dynamic.ResourceProvider;

  beforeAll(async () => {
    const seen: pulumi.runtime.MockResourceArgs[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          seen.push(args);
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      "metamcp-guard",
      "test",
    );
    const lock = new VolumeLock("lock", { volumeName: "v1", acceptNewVolume: false });
    await new Promise((resolve) => lock.volumeName.apply(resolve));
    provider = loadSerializedProvider(seen.find((r) => r.name === "lock")!.inputs.__provider as string);
  });

  it("still refuses a rename after serialization", async () => {
    const result = await provider.check!({ volumeName: "v1", acceptNewVolume: false }, { volumeName: "v2", acceptNewVolume: false });
    expect(result.failures?.[0]?.reason).toMatch(/from "v1" to "v2"/);
  });
});
