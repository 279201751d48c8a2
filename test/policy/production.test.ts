/**
 * Which stacks the production-only rules (prod-images-pinned, prod-postgres-volume-protected,
 * prod-slices-enabled, prod-no-unjudged-workloads) apply to: a stack that says it is production
 * (its containers labelled metamcp-guard.production=true), a stack named in productionStacks,
 * or every stack with allStacks.
 */
import type { PolicyResource } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { isProduction, PRODUCTION_DEFAULTS } from "../../policy/config";
import { declaresProduction } from "../../policy/resources";
import { resource, UNKNOWN_STRING } from "./support/harness";
import { container, productionContainer, remoteImage } from "./support/fixtures";

const LABEL = { label: "metamcp-guard.production", value: "true" };

describe("whether a stack says it is production", () => {
  it.each<[string, () => PolicyResource[], boolean]>([
    ["a container labelled metamcp-guard.production=true", () => [productionContainer("live")], true],
    ["one labelled container among unlabelled ones", () => [container({ stack: "live", role: "db" }), productionContainer("live")], true],
    ["containers without the label", () => [container({ stack: "live" }), container({ stack: "live", role: "db" })], false],
    ["the label set to false", () => [productionContainer("live", {}, "false")], false],
    ["the label's value unknown during preview", () => [productionContainer("live", {}, UNKNOWN_STRING as string)], false],
    ["no containers", () => [remoteImage("metamcp:2.4.22", "live")], false],
    // Only containers carry the program's labels; a look-alike property elsewhere says nothing.
    ["a non-container with a labels property", () => [resource({ type: "docker:index/network:Network", name: "n", stack: "live", props: { labels: [LABEL] } })], false],
  ])("%s: %s", (_, resources, expected) => {
    expect(declaresProduction(resources())).toBe(expected);
  });
});

describe("isProduction", () => {
  const labelled = () => [productionContainer("live")];
  const unlabelled = () => [container({ stack: "live" })];
  it.each<[string, string, () => PolicyResource[], Partial<typeof PRODUCTION_DEFAULTS>, boolean]>([
    ["named prod, no label (a stack file that forgets the setting)", "prod", unlabelled, {}, true],
    ["named production, no label", "production", unlabelled, {}, true],
    ["named dev, no label", "dev", unlabelled, {}, false],
    ["named live, labelled", "live", labelled, {}, true],
    ["named live, labelled, productionStacks emptied (the label is the stack's own word)", "live", labelled, { productionStacks: [] }, true],
    ["named live, no label, in productionStacks", "live", unlabelled, { productionStacks: ["live"] }, true],
    ["named prod, no label, productionStacks without prod", "prod", unlabelled, { productionStacks: ["live"] }, false],
    ["named dev, no label, allStacks", "dev", unlabelled, { allStacks: true }, true],
  ])("%s", (_, stack, resources, knobs, expected) => {
    expect(isProduction(stack, resources(), { ...PRODUCTION_DEFAULTS, ...knobs })).toBe(expected);
  });
});
