import { archGated } from './arch-gated.js';
import { driverPasid } from './driver-pasid.js';
import { mainline } from './mainline.js';
import type { Policy, PolicyName } from './policy.js';
import { rfcV1 } from './rfc-v1.js';

export const POLICIES: Record<PolicyName, Policy> = {
  mainline,
  'rfc-v1': rfcV1,
  'arch-gated': archGated,
  'driver-pasid': driverPasid,
};

export { POLICY_NAMES, type Policy, type PolicyName } from './policy.js';

