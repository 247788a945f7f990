/**
 * The application menu: the lab's actions with the accelerators of Ripes and CPUlator (Step F10, Undo/Reverse
 * Shift+F10, Run F5), Redo (CmdOrCtrl+Y, handled by the page: see below), Reset, and Quit; with a session document,
 * File > New (CmdOrCtrl+N), Open (CmdOrCtrl+O), Open Recent (the app's own list), Save (CmdOrCtrl+S), Save As
 * (CmdOrCtrl+Shift+S); File > Export (the trace as JSON Lines, the steps as a scenario, the view as PNG: the renderer
 * makes the file and Electron asks where to save the download).
 */
import { basename } from 'node:path';
import type { MenuItemConstructorOptions } from 'electron';

/** The session file actions (document.ts). */
export interface FileActions {
  /** A fresh lab with the default SoC (asks about unsaved changes first); absent: no New item. */
  newLab?(): void;
  open(): void;
  openRecent(path: string): void;
  save(): void;
  saveAs(): void;
  /** Recent files, newest first. */
  recent: readonly string[];
}

export interface MenuActions {
  step(): void;
  undo(): void;
  reset(): void;
  /** Apply the next step of the timeline again (after an undo or a jump back). */
  redo(): void;
  /** Run a scenario file: an open dialog, then lab.loadScenario. */
  run(): void;
  /** Export the trace (JSON Lines), the steps (scenario YAML) or the view on screen (PNG). */
  export(what: 'trace' | 'scenario' | 'png'): void;
  quit(): void;
  /** Session files: Open, Open Recent, Save, Save As (absent: no such items). */
  file?: FileActions;
}

function fileItems(f: FileActions): MenuItemConstructorOptions[] {
  const recent: MenuItemConstructorOptions[] = f.recent.length
    ? f.recent.map((p, i) => ({ id: `recent-${i}`, label: `${basename(p)}  \u2014  ${p}`, click: () => f.openRecent(p) }))
    : [{ label: 'No recent sessions', enabled: false }];
  return [
    ...(f.newLab ? [{ id: 'new', label: '&New Lab', accelerator: 'CmdOrCtrl+N', click: () => f.newLab?.() }] : []),
    { id: 'open', label: '&Open Session\u2026', accelerator: 'CmdOrCtrl+O', click: () => f.open() },
    { id: 'open-recent', label: 'Open &Recent', submenu: recent },
    { type: 'separator' },
    { id: 'save', label: '&Save', accelerator: 'CmdOrCtrl+S', click: () => f.save() },
    { id: 'save-as', label: 'Save &As\u2026', accelerator: 'CmdOrCtrl+Shift+S', click: () => f.saveAs() },
    { type: 'separator' },
  ];
}

export function menuTemplate(a: MenuActions, dev: boolean): MenuItemConstructorOptions[] {
  const view: MenuItemConstructorOptions[] = [{ role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }];
  if (dev) view.push({ type: 'separator' }, { role: 'reload' }, { role: 'toggleDevTools' });
  return [
    {
      label: '&File',
      submenu: [
        ...(a.file ? fileItems(a.file) : []),
        { id: 'run', label: '&Run Scenario File…', accelerator: 'F5', click: () => a.run() },
        {
          id: 'export',
          label: '&Export',
          submenu: [
            { id: 'export-trace', label: 'Trace as JSON Lines\u2026', click: () => a.export('trace') },
            { id: 'export-scenario', label: 'Steps as Scenario YAML\u2026', click: () => a.export('scenario') },
            { id: 'export-png', label: 'View as PNG\u2026', click: () => a.export('png') },
          ],
        },
        { type: 'separator' },
        { id: 'quit', label: '&Quit', accelerator: 'CmdOrCtrl+Q', click: () => a.quit() },
      ],
    },
    { label: '&Edit', submenu: [{ role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }] },
    {
      label: '&Lab',
      submenu: [
        { id: 'step', label: '&Step', accelerator: 'F10', click: () => a.step() },
        { id: 'undo', label: '&Undo Step (Reverse)', accelerator: 'Shift+F10', click: () => a.undo() },
        // Shown, not registered: the page handles Ctrl+Y itself, outside text fields, where it stays the text's redo.
        { id: 'redo', label: 'Re&do Step', accelerator: 'CmdOrCtrl+Y', registerAccelerator: false, click: () => a.redo() },
        { type: 'separator' },
        { id: 'reset', label: 'R&eset', click: () => a.reset() },
      ],
    },
    { label: '&View', submenu: view },
  ];
}
