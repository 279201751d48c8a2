/** npm run bench's arguments. */
import { describe, expect, it } from "vitest";
import { parseBenchArgs } from "../../bench/index";

describe("parseBenchArgs", () => {
  it.each<[string[], ReturnType<typeof parseBenchArgs>]>([
    [[], ["monitor", "guard"]],
    [["guard"], ["guard"]],
    [["monitor", "monitor"], ["monitor"]],
    [["--help"], "help"],
    [["guard", "-h"], "help"],
    [["fast"], { error: "unknown benchmark fast; known: monitor, guard" }],
  ])("%j", (argv, want) => {
    expect(parseBenchArgs(argv)).toEqual(want);
  });
});
