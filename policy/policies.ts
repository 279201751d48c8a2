/**
 * Every policy of the pack, in the order reports list them. The pack (index.ts) serves exactly
 * this list; tests run exactly this list over the real program, so what is tested is what runs.
 */
import type { Policies } from "@pulumi/policy";
import { dataPolicies } from "./data";
import { dockerHostPolicies } from "./dockerHost";
import { exposurePolicies } from "./exposure";
import { guardPolicies } from "./guard";
import { healthPolicies } from "./health";
import { imagePolicies } from "./images";
import { isolationPolicies } from "./isolation";
import { labelPolicies } from "./labels";
import { limitPolicies } from "./limits";
import { rolePolicies } from "./roles";
import { securityPolicies } from "./security";
import { slicePolicies } from "./slices";
import { workloadPolicies } from "./workloads";

export const POLICY_PACK_NAME = "metamcp-guard";

export const policies: Policies = [
  ...limitPolicies,
  ...healthPolicies,
  ...securityPolicies,
  ...isolationPolicies,
  ...labelPolicies,
  ...rolePolicies,
  ...guardPolicies,
  ...exposurePolicies,
  ...dockerHostPolicies,
  ...imagePolicies,
  ...dataPolicies,
  ...slicePolicies,
  ...workloadPolicies,
];
