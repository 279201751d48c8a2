/**
 * The Pulumi program: validate this stack's config before declaring anything, then build it.
 * Pulumi runs this file with ts-node after changing directory to infra/.
 */
import { loadStackConfig } from "./config";
import { buildStack } from "./stack";

const { config, secrets } = loadStackConfig();
const stack = buildStack(config, secrets);

export const url = stack.url;
export const containers = stack.containers;
export const dataVolume = stack.dataVolume;
export const monitorMetricsUrl = stack.monitorMetricsUrl;
export const limits = stack.limits;
