/**
 * Files in the browser: a download made from text or bytes (a Blob behind a temporary object URL, clicked through
 * an `<a download>`), and the text of a file the person picked. The web host saves sessions and exports this way;
 * under Electron the same download opens Electron's save dialog.
 */

export const MIME = {
  session: 'application/json',
  jsonl: 'application/x-ndjson',
  yaml: 'application/yaml',
  json: 'application/json',
  png: 'image/png',
} as const;

/** Offers `data` as a download named `name`. Returns the Blob offered (tests read it back). */
export function download(name: string, data: string | Blob, type: string, doc: Document = document): Blob {
  const blob = typeof data === 'string' ? new Blob([data], { type }) : data;
  const url = URL.createObjectURL(blob);
  const a = doc.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  a.style.display = 'none';
  doc.body.appendChild(a);
  try {
    a.click();
  } finally {
    a.remove();
    // The download has its own reference to the Blob once started; the URL is not needed past this task.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
  return blob;
}

/** The text of a picked file, refused beyond `maxBytes` (before reading it) with a message naming the limit. */
export async function readPicked(file: File, maxBytes: number): Promise<{ ok: true; text: string } | { ok: false; message: string }> {
  if (file.size > maxBytes) {
    return { ok: false, message: `${file.name}: ${file.size} bytes is more than the ${maxBytes}-byte limit of the web host (open larger sessions with the desktop app or \`svalab run\`)` };
  }
  try {
    return { ok: true, text: await file.text() };
  } catch (e) {
    return { ok: false, message: `${file.name}: cannot read the file: ${(e as Error).message}` };
  }
}
