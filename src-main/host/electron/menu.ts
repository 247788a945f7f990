/**
 * The application menu: the lab's actions with the accelerators of Ripes and CPUlator (Step F10, Undo/Reverse
 * Shift+F10, Run F5), Reset, and Quit.
 */
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  step(): void;
  undo(): void;
  reset(): void;
  /** Run a scenario file: an open dialog, then lab.loadScenario. */
  run(): void;
  quit(): void;
}

export function menuTemplate(a: MenuActions, dev: boolean): MenuItemConstructorOptions[] {
  const view: MenuItemConstructorOptions[] = [{ role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }];
  if (dev) view.push({ type: 'separator' }, { role: 'reload' }, { role: 'toggleDevTools' });
  return [
    {
      label: '&File',
      submenu: [
        { id: 'run', label: '&Run Scenario File…', accelerator: 'F5', click: () => a.run() },
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
        { type: 'separator' },
        { id: 'reset', label: 'R&eset', click: () => a.reset() },
      ],
    },
    { label: '&View', submenu: view },
  ];
}
