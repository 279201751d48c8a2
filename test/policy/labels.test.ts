/** Every container says its stack and role: the other policies and verify rely on it. */
import { describe, expect, it } from "vitest";
import { containerLabels } from "../../policy/labels";
import { LABEL_ROLE, labelsOf } from "../../policy/resources";
import { UNKNOWN_ARRAY, UNKNOWN_STRING, validateResource } from "./support/harness";
import { container } from "./support/fixtures";

describe("container-labels", () => {
  it("passes a container labelled with its stack and role", async () => {
    expect(await validateResource(containerLabels, container({ stack: "prod" }))).toEqual({ violations: [] });
  });

  it("fails a container labelled with another stack", async () => {
    const labels = [
      { label: "metamcp-guard.stack", value: "dev" },
      { label: "metamcp-guard.role", value: "app" },
    ];
    const outcome = await validateResource(containerLabels, container({ stack: "prod", props: { labels } }));
    expect(outcome.violations.map((v) => v.message)).toEqual([expect.stringContaining('metamcp-guard.stack="dev"; want "prod"')]);
  });

  it("fails an unlabelled container, for both labels", async () => {
    const outcome = await validateResource(containerLabels, container({ props: { labels: undefined } }));
    expect(outcome.violations).toHaveLength(2);
  });

  it("fails an unknown role", async () => {
    const labels = [
      { label: "metamcp-guard.stack", value: "dev" },
      { label: "metamcp-guard.role", value: "sidecar" },
    ];
    const outcome = await validateResource(containerLabels, container({ props: { labels } }));
    expect(outcome.violations.map((v) => v.message)).toEqual([expect.stringContaining('role="sidecar"')]);
  });
});

describe("labels unknown during preview", () => {
  it("skip the label check instead of failing to run", async () => {
    const outcome = await validateResource(containerLabels, container({ props: { labels: UNKNOWN_ARRAY } }));
    expect(outcome).toEqual({ violations: [] });
  });

  it("leave out a label whose value is unknown, keeping the others", () => {
    const props = container({ props: { labels: [{ label: LABEL_ROLE, value: "app" }, { label: "computed", value: UNKNOWN_STRING }] } }).props;
    expect([...labelsOf(props)]).toEqual([[LABEL_ROLE, "app"]]);
  });
});
