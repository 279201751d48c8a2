/**
 * Every policy of the pack, in the order reports list them. The pack (index.ts) serves exactly
 * this list; tests run exactly this list over the real program, so what is tested is what runs.
 */
import type { Policies } from "@pulumi/policy";
import { dataPolicies } from "./data";
import { healthPolicies } from "./health";
import { imagePolicies } from "./images";
import { labelPolicies } from "./labels";
import { limitPolicies } from "./limits";
import { securityPolicies } from "./security";
import { slicePolicies } from "./slices";

export const POLICY_PACK_NAME = "metamcp-guard";

export const policies: Policies = [
  ...limitPolicies,
  ...healthPolicies,
  ...securityPolicies,
  ...labelPolicies,
  ...imagePolicies,
  ...dataPolicies,
  ...slicePolicies,
];
