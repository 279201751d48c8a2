/** The test images' builders: built once per process, and a failed build tried again by the next caller. */
import { describe, expect, it } from "vitest";
import { oncePerProcess } from "./images";

describe("oncePerProcess", () => {
  it("runs the build once, whoever asks and however often", async () => {
    let builds = 0;
    const image = oncePerProcess(async () => `image-${++builds}`);
    expect(await Promise.all([image(), image(), image()])).toEqual(["image-1", "image-1", "image-1"]);
    expect(await image()).toBe("image-1");
    expect(builds).toBe(1);
  });

  it("does not keep a failure: the next caller builds again", async () => {
    let builds = 0;
    const image = oncePerProcess(async () => {
      if (++builds === 1) throw new Error("postgresql is not installed");
      return "image";
    });
    await expect(image()).rejects.toThrow("postgresql is not installed");
    expect(await image()).toBe("image");
    expect(builds).toBe(2);
  });
});
