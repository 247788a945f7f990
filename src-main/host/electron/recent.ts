/**
 * The app's own "Open Recent" list (Linux has no OS list: anchors.md §D.2): at most ten absolute paths, newest first,
 * in userData/recent-files.json. Read back through a schema (a hand-edited or damaged file gives an empty list), files
 * that no longer exist dropped; written atomically.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../lab/session-io.js';

export const MAX_RECENT = 10;

export const RecentFiles = z
  .object({
    version: z.literal(1),
    files: z.array(z.string().min(1).max(4096).refine(isAbsolute, 'an absolute path')).max(100),
  })
  .strict();

/** The list, newest first, without missing files; [] when the file is missing or invalid. */
export function loadRecent(file: string): string[] {
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > 1 << 20) return [];
    raw = JSON.parse(text);
  } catch {
    return [];
  }
  const r = RecentFiles.safeParse(raw);
  if (!r.success) return [];
  return [...new Set(r.data.files)].filter((f) => existsSync(f)).slice(0, MAX_RECENT);
}

export function saveRecent(file: string, files: string[]): void {
  writeFileAtomic(file, JSON.stringify(RecentFiles.parse({ version: 1, files: files.slice(0, MAX_RECENT) }), null, 2) + '\n');
}

/** `path` moved to the front (added if new), the list cut to MAX_RECENT. */
export function withRecent(files: readonly string[], path: string): string[] {
  return [path, ...files.filter((f) => f !== path)].slice(0, MAX_RECENT);
}
