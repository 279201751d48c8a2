/** originForm (guard/src/requestTarget.ts): what the guard forwards for each request target, or refuses. */
import { describe, expect, it } from "vitest";
import { originForm } from "../../guard/src/requestTarget";

describe("originForm", () => {
  it.each([
    ["an origin form passes as it is", "/metamcp/default/mcp", "/metamcp/default/mcp"],
    ["its query passes too (api_key included)", "/metamcp/default/mcp?api_key=sk_1", "/metamcp/default/mcp?api_key=sk_1"],
    ["the root", "/", "/"],
    ["a path that starts with two slashes stays a path", "//metamcp/x", "//metamcp/x"],
    ["a backslash becomes a slash, as http-proxy-3 would send it", "/a\\b", "/a/b"],
    ["a bad percent escape is left to MetaMCP", "/%zz", "/%zz"],
    ["an absolute form becomes its path and query", "http://elsewhere.example/metamcp/default/mcp?x=1", "/metamcp/default/mcp?x=1"],
    ["an https absolute form, any case", "HTTPS://h:8443/x", "/x"],
    ["an absolute form without a path is the root", "http://h", "/"],
  ])("%s: %s → %s", (_case, target, forwarded) => {
    expect(originForm(target)).toBe(forwarded);
  });

  it.each([
    ["an absolute form with a broken host", "http://["],
    ["an absolute form with a port out of range", "http://a:99999/"],
    ["a path a URL parser reads as a host", "/\\[x"],
    ["an authority form", "metamcp:12008"],
    ["the asterisk form", "*"],
    ["another scheme", "ftp://h/x"],
    ["nothing", ""],
  ])("%s (%s) is refused", (_case, target) => {
    expect(originForm(target)).toBeUndefined();
  });

  it("what it returns, read again, is itself (http-proxy-3 parses it once more)", () => {
    for (const target of ["/a\\b", "//x/y?z", "http://h/p?q", "/%zz", "/x y".replace(" ", "%20")]) {
      const once = originForm(target)!;
      expect(originForm(once)).toBe(once);
    }
  });
});
