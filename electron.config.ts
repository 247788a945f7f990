/**
 * electron-builder configuration for the desktop app: `npm run package` builds a Linux AppImage and a .deb into
 * release/; `npm run package:dir` builds the unpacked app only. Where Electron's binary cannot be downloaded, point
 * ELECTRON_DIST at an unpacked Electron (the directory holding the `electron` executable) and electron-builder uses
 * it instead of fetching one.
 */
import type { Configuration } from 'electron-builder';

const config: Configuration = {
  appId: 'org.svalab.SvaLab',
  productName: 'SVA Lab',
  directories: { output: 'release' },
  // The compiled main process (with its preload) and the built renderer; sources and tests stay out.
  files: ['dist/src-main/**/*', 'dist/shared/**/*', 'dist-renderer/**/*', 'package.json', '!**/*.map'],
  asar: true,
  ...(process.env.ELECTRON_DIST ? { electronDist: process.env.ELECTRON_DIST } : {}),
  linux: {
    target: ['AppImage', 'deb'],
    category: 'Development',
    synopsis: 'A lab bench for Linux PASID/SSID policies over a simulated Arm SMMUv3',
    maintainer: 'SVA Lab',
  },
  deb: { depends: ['libnss3', 'libgtk-3-0'] },
};

export default config;
