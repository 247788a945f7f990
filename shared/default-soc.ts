/**
 * The lab's ready default: the SoC of the seed thread. One SMMUv3 (SSIDSIZE 20, CD2L), the non-PCIe accelerator with
 * 2 PASID bits (3 usable SSIDs) that tells its device the SSID through a register, two DSA-like and one IAA-like PCIe
 * device that take idxd kernel PASIDs at probe, and a big platform device that also does SVA.
 */
import type { SocConfigInput } from './soc-config.js';

export const DEFAULT_SOC: SocConfigInput = {
  arch: 'arm64',
  smmus: [{ name: 'smmu0', ssidsize: 20, cd2l: true, asid16: true, stall: true }],
  devices: [
    { name: 'accel', kind: 'platform', smmu: 'smmu0', sid: 0x10, pasid_bits: 2, stall: true, driver_pasid: true },
    { name: 'gpu', kind: 'platform', smmu: 'smmu0', sid: 0x20, pasid_bits: 20 },
    { name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 0x100, pasid_bits: 20, kernel_pasid: true },
    { name: 'dsa1', kind: 'dsa', smmu: 'smmu0', sid: 0x108, pasid_bits: 20, kernel_pasid: true },
    { name: 'iax0', kind: 'iaa', smmu: 'smmu0', sid: 0x110, pasid_bits: 20, kernel_pasid: true },
  ],
};

/** The seed's failure, one step away on the default SoC: the kernel PASIDs took 1..3, so the accelerator is starved. */
export const SEED_FAILURE_STEPS = [{ bind: { process: 'app', device: 'accel' } }];
