/**
 * The window's size and position, remembered across runs in userData/window-state.json. Read back through a schema
 * (a hand-edited or truncated file gives the defaults) and dropped when the position lies on no display any more.
 * Written atomically (temporary file, then rename).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

export const WindowState = z
  .object({
    width: z.int().min(400).max(16384),
    height: z.int().min(300).max(16384),
    x: z.int().min(-65536).max(65536).optional(),
    y: z.int().min(-65536).max(65536).optional(),
    maximized: z.boolean().default(false),
  })
  .strict();
export type WindowState = z.infer<typeof WindowState>;

export const DEFAULT_WINDOW_STATE: WindowState = { width: 1280, height: 800, maximized: false };

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The saved state, or the defaults when the file is missing or invalid; the position only if it is on a display. */
export function loadWindowState(file: string, workAreas: Rect[]): WindowState {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { ...DEFAULT_WINDOW_STATE };
  }
  const r = WindowState.safeParse(raw);
  if (!r.success) return { ...DEFAULT_WINDOW_STATE };
  const s = r.data;
  if (s.x === undefined || s.y === undefined) return { width: s.width, height: s.height, maximized: s.maximized };
  // keep the position when at least a 64x64 corner of the title bar area lies on some display
  const visible = workAreas.some((a) => s.x! + 64 <= a.x + a.width && s.x! + s.width - 64 >= a.x && s.y! >= a.y && s.y! + 64 <= a.y + a.height);
  return visible ? s : { width: s.width, height: s.height, maximized: s.maximized };
}

export function saveWindowState(file: string, s: WindowState): void {
  const checked = WindowState.parse(s);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(checked, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
