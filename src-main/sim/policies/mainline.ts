/** `mainline`: Linux 6.17 as it is. One global PASID per mm, from the one IDA, freed at __mmdrop. */
import { iommuAllocGlobalPasid, iommuFreeGlobalPasid } from '../kernel/iommu.js';
import { iommuSvaBindDevice, iommuSvaGetPasid, iommuSvaUnbindDevice, mmPasidDrop } from '../kernel/iommu-sva.js';
import type { Policy } from './policy.js';

export const mainline: Policy = {
  name: 'mainline',
  summary: 'Linux 6.17: one global PASID per mm from iommu_global_pasid_ida, freed when the mm is dropped',
  probeDevice() {},
  driverBind: (k, dev, mm) => iommuSvaBindDevice(k, dev, mm),
  driverUnbind: (k, handle) => iommuSvaUnbindDevice(k, handle),
  getPasid: (handle) => iommuSvaGetPasid(handle),
  mmPasidDrop: (k, mm) => mmPasidDrop(k, mm),
  allocKernelPasid: (k, dev) => ({ pasid: iommuAllocGlobalPasid(k, dev), source: 'global' }),
  freeKernelPasid: (k, _dev, pasid) => iommuFreeGlobalPasid(k, pasid),
  mmEnqcmdPasid: (mm) => (mm.iommuMm ? mm.iommuMm.pasid : null), // mm_valid_pasid() ? mm_get_enqcmd_pasid() : -
  claimsGlobalNumber: () => true,
};
