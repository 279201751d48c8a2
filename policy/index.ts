/**
 * The metamcp-guard policy pack. The only file that constructs the PolicyPack: doing so starts
 * the analyzer's gRPC server and reads ./package.json for the version, which is why tests import
 * ./policies and the topic modules, never this file.
 *
 *     pulumi preview --policy-pack policy [--policy-pack-config policy-config.json]
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICY_PACK_NAME, policies } from "./policies";

new PolicyPack(POLICY_PACK_NAME, {
  description: "Hard limits, no escape hatches and pinned production images for MetaMCP and its Postgres on a Docker host.",
  enforcementLevel: "mandatory",
  policies,
});
