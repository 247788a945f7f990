/** Constants of include/linux/iommu.h and arm-smmu-v3.h (kernel-semantics.md §1), Linux 6.17. */

/** include/linux/iommu.h: RID / "no PASID" traffic; never handed out for SVA. */
export const IOMMU_NO_PASID = 0;
/** include/linux/iommu.h: lower bound of the global allocator. */
export const IOMMU_FIRST_GLOBAL_PASID = 1;
/** include/linux/iommu.h: -1U, the "no PASID" sentinel (ioasid_t is unsigned int). */
export const IOMMU_PASID_INVALID = 0xffffffff;
/** The PCI PASID capability and SMMUv3 IDR1.SSIDSIZE both top out at 20 bits. */
export const PASID_BITS_MAX = 20;

/** arm-smmu-v3.h */
export const STRTAB_SPLIT = 8;
export const CTXDESC_L2_ENTRIES = 1024;
export const CTXDESC_LINEAR_CDMAX = 10; // ilog2(SZ_64K / (CTXDESC_CD_DWORDS << 3))
export const ARM_SMMU_MAX_ASIDS = 1 << 16;

/** u32 arithmetic, as C does it: (x - 1) on 0 gives 0xFFFFFFFF. */
export function u32(x: number): number {
  return x >>> 0;
}
