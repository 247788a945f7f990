/**
 * electron-builder configuration for the desktop app (Linux AppImage and deb).
 *
 * Nothing uses it yet: the Electron shell and `npm run package` come with the desktop-lab work, which adds
 * electron and electron-builder to the dev dependencies and builds the main process and renderer into the
 * directories named under `files`. Kept here because the project's layout fixes its place.
 */
const config = {
  appId: 'org.svalab.SvaLab',
  productName: 'SVA Lab',
  directories: { output: 'release' },
  files: ['dist/**/*', 'dist-renderer/**/*', 'package.json'],
  linux: {
    target: ['AppImage', 'deb'],
    category: 'Development',
    synopsis: 'A lab bench for Linux PASID/SSID policies over a simulated Arm SMMUv3',
  },
};

export default config;
