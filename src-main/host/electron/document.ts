/**
 * The open session as a document in the Electron shell (anchors.md §D.2): File > Open, Save, Save As through the
 * native dialogs with loadSession/saveSession (atomic), the app's own recent-files list, the window title with the
 * file name and an unsaved-changes mark, a question before unsaved changes are dropped (open, close), and crash
 * recovery: while the lab has unsaved changes it is autosaved to userData/recovery.svalab; a clean save or close
 * removes that file, so finding it at the next start means the last run did not end cleanly, and the person is
 * offered to restore it.
 *
 * The lab itself stays in LabService (the document's notes, layout and dirty state included); this file only moves
 * it to and from disk and asks the person.
 */
import { dialog, type BrowserWindow, type MessageBoxOptions } from 'electron';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { z } from 'zod';
import { SESSION_EXTENSION, SessionError, type ParsedSession } from '../../../shared/session.js';
import { loadSession, saveSession, writeFileAtomic } from '../../lab/session-io.js';
import { RequestError, type DocumentHost, type LabService } from '../service.js';
import { loadRecent, saveRecent, withRecent } from './recent.js';

export interface DocumentOptions {
  /** app.getPath('userData'): the recent list and the recovery file live there. */
  userData: string;
  /** Our window (dialogs are modal to it), or null. */
  window: () => BrowserWindow | null;
  /** The recent list changed: rebuild the Open Recent menu. */
  onRecentChanged?: (files: readonly string[]) => void;
  /** Autosave this long after a change (ms, default 2000). */
  autosaveMs?: number;
}

const FILTERS = [
  { name: 'SVA Lab sessions', extensions: ['svalab'] },
  { name: 'All files', extensions: ['*'] },
];

export const RecoveryMeta = z
  .object({
    version: z.literal(1),
    /** The file the recovered lab was opened from or last saved to, if any. */
    file: z.string().max(4096).nullable(),
    saved: z.string().max(64),
  })
  .strict();
export type RecoveryMeta = z.infer<typeof RecoveryMeta>;

export class SessionDocument implements DocumentHost {
  /** The file the lab was opened from or last saved to; null for a lab never saved. */
  path: string | null = null;
  recent: string[];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The person confirmed the close: let it happen. */
  private closing = false;
  private readonly unsubscribe: () => void;

  constructor(
    readonly service: LabService,
    private readonly opts: DocumentOptions,
  ) {
    this.recent = loadRecent(this.recentFile);
    this.unsubscribe = service.onChange(() => this.changed());
  }

  get recentFile(): string {
    return join(this.opts.userData, 'recent-files.json');
  }

  get recoveryFile(): string {
    return join(this.opts.userData, 'recovery.svalab');
  }

  get recoveryMetaFile(): string {
    return join(this.opts.userData, 'recovery.json');
  }

  /** The name shown in the title and dialogs. */
  get displayName(): string {
    return this.path ? basename(this.path) : 'Untitled';
  }

  /** `name.svalab • — SVA Lab`: the dot marks unsaved changes. */
  title(): string {
    return `${this.displayName}${this.service.dirty ? ' \u2022' : ''} \u2014 SVA Lab`;
  }

  dispose(): void {
    this.unsubscribe();
    this.cancelAutosave();
  }

  /* -------------------------------------------------------------------------------------------------------- */
  /* New, open, save                                                                                            */

  /** The bench's `host.document` requests: its New, Open, Save and Save As buttons use these dialogs too. */
  action(action: 'new' | 'open' | 'save' | 'saveAs'): void {
    if (action === 'new') void this.newLab();
    else if (action === 'open') void this.open();
    else if (action === 'save') void this.save();
    else void this.saveAs();
  }

  /** File > New: a fresh lab with the default SoC, after asking about unsaved changes. False when cancelled. */
  async newLab(): Promise<boolean> {
    if (!(await this.confirmDiscard('start a new lab'))) return false;
    this.service.newSession();
    this.path = null;
    this.clearRecovery();
    this.updateTitle();
    return true;
  }

  /** File > Open (a dialog when `path` is not given) and Open Recent. False when nothing was opened. */
  async open(path?: string): Promise<boolean> {
    if (!(await this.confirmDiscard('open another session'))) return false;
    let file = path;
    if (file === undefined) {
      const win = this.opts.window();
      const o = { title: 'Open session', properties: ['openFile' as const], filters: FILTERS };
      const r = win ? await dialog.showOpenDialog(win, o) : await dialog.showOpenDialog(o);
      file = r.filePaths[0];
      if (r.canceled || !file) return false;
    }
    let parsed: ParsedSession;
    try {
      parsed = loadSession(file);
    } catch (e) {
      if (!(e instanceof SessionError)) throw e;
      if (e.kind === 'io' && this.recent.includes(file)) this.setRecent(this.recent.filter((f) => f !== file));
      this.notice('error', e.message);
      return false;
    }
    let divergences = 0;
    try {
      divergences = this.service.openSession(parsed, basename(file)).divergences;
    } catch (e) {
      if (e instanceof RequestError) {
        this.notice('error', e.message);
        return false;
      }
      throw e;
    }
    this.path = file;
    this.setRecent(withRecent(this.recent, file));
    this.clearRecovery();
    this.updateTitle();
    const notes = [parsed.migratedFrom !== null ? `migrated from format version ${parsed.migratedFrom}` : '', divergences ? `${divergences} step(s) give a different result than recorded (svalab run lists them)` : ''].filter(Boolean);
    this.notice('info', `opened ${basename(file)}${notes.length ? `: ${notes.join('; ')}` : ''}`);
    return true;
  }

  /** File > Save: to the current file, or Save As for a lab never saved. */
  async save(): Promise<boolean> {
    return this.path ? this.writeTo(this.path) : this.saveAs();
  }

  /** File > Save As: a dialog, then an atomic write. */
  async saveAs(): Promise<boolean> {
    const win = this.opts.window();
    const o = { title: 'Save session', defaultPath: this.path ?? this.service.suggestedName(), filters: FILTERS, properties: ['showOverwriteConfirmation' as const] };
    const r = win ? await dialog.showSaveDialog(win, o) : await dialog.showSaveDialog(o);
    if (r.canceled || !r.filePath) return false;
    const file = extname(r.filePath) ? r.filePath : r.filePath + SESSION_EXTENSION;
    return this.writeTo(file);
  }

  private writeTo(file: string): boolean {
    try {
      saveSession(file, this.service.exportSession());
    } catch (e) {
      this.notice('error', `could not save ${basename(file)}: ${e instanceof SessionError ? e.message : ((e as NodeJS.ErrnoException).code ?? (e as Error).message)}`);
      return false;
    }
    this.path = file;
    this.service.markSaved(basename(file));
    this.setRecent(withRecent(this.recent, file));
    this.clearRecovery();
    this.updateTitle();
    return true;
  }

  private setRecent(files: string[]): void {
    this.recent = files;
    try {
      saveRecent(this.recentFile, files);
    } catch {
      // a read-only profile: the list lives for this run only
    }
    this.opts.onRecentChanged?.(files);
  }

  /* -------------------------------------------------------------------------------------------------------- */
  /* Unsaved changes                                                                                            */

  /** Asks before unsaved changes are dropped: Save, Don't Save, Cancel. True when the caller may go on. */
  async confirmDiscard(action: string): Promise<boolean> {
    if (!this.service.dirty) return true;
    const response = await this.ask({
      type: 'warning',
      buttons: ['Save', "Don't Save", 'Cancel'],
      defaultId: 0,
      cancelId: 2,
      title: 'Unsaved changes',
      message: `Save the changes to ${this.displayName} before you ${action}?`,
      detail: 'Your changes will be lost if you do not save them.',
    });
    if (response === 0) return this.save();
    if (response === 1) {
      this.clearRecovery();
      return true;
    }
    return false;
  }

  /** Guards the window's close: unsaved changes are asked about; a clean close removes the recovery file. */
  guardClose(win: BrowserWindow): void {
    win.on('close', (e?: { preventDefault(): void }) => {
      if (this.closing || !this.service.dirty) {
        this.clearRecovery();
        return;
      }
      e?.preventDefault();
      void this.confirmDiscard('close the window').then((ok) => {
        if (!ok) return;
        this.closing = true;
        this.clearRecovery();
        win.close();
      });
    });
  }

  /* -------------------------------------------------------------------------------------------------------- */
  /* Autosave and recovery                                                                                      */

  private changed(): void {
    this.updateTitle();
    if (this.service.dirty) this.scheduleAutosave();
  }

  private scheduleAutosave(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.autosaveNow();
    }, this.opts.autosaveMs ?? 2000);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private cancelAutosave(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Writes the recovery file now if there are unsaved changes (removes it otherwise). True when written. */
  autosaveNow(): boolean {
    this.cancelAutosave();
    if (!this.service.dirty) {
      this.clearRecovery();
      return false;
    }
    try {
      saveSession(this.recoveryFile, this.service.exportSession());
      const meta: RecoveryMeta = { version: 1, file: this.path, saved: new Date().toISOString() };
      writeFileAtomic(this.recoveryMetaFile, JSON.stringify(meta, null, 2) + '\n');
      return true;
    } catch {
      return false; // a full disk: try again at the next change
    }
  }

  /** Removes the recovery file (after a save, an open, a clean close, or a discard). */
  clearRecovery(): void {
    this.cancelAutosave();
    for (const f of [this.recoveryFile, this.recoveryMetaFile]) rmSync(f, { force: true });
  }

  private readRecoveryMeta(): RecoveryMeta | null {
    try {
      const r = RecoveryMeta.safeParse(JSON.parse(readFileSync(this.recoveryMetaFile, 'utf8')));
      return r.success ? r.data : null;
    } catch {
      return null;
    }
  }

  /**
   * At start: a recovery file means the last run ended with unsaved changes and without a clean close. Offers to
   * restore it (Electron's message box); a damaged recovery file is dropped with a notice.
   */
  async offerRecovery(): Promise<'restored' | 'discarded' | 'none'> {
    if (!existsSync(this.recoveryFile)) {
      rmSync(this.recoveryMetaFile, { force: true });
      return 'none';
    }
    const meta = this.readRecoveryMeta();
    let parsed: ParsedSession;
    try {
      parsed = loadSession(this.recoveryFile);
    } catch (e) {
      this.clearRecovery();
      this.notice('error', `the recovery file of the last run could not be read and was removed (${e instanceof Error ? e.message : String(e)})`);
      return 'discarded';
    }
    const from = meta?.file ? ` of ${basename(meta.file)}` : '';
    const response = await this.ask({
      type: 'question',
      buttons: ['Restore', 'Discard'],
      defaultId: 0,
      cancelId: 1,
      title: 'Restore unsaved work?',
      message: `SVA Lab did not close cleanly. Restore the unsaved lab${from}?`,
      detail: `Autosaved ${meta?.saved ?? 'before the last run ended'}: ${parsed.session.steps.length} step(s).`,
    });
    if (response !== 0) {
      this.clearRecovery();
      return 'discarded';
    }
    try {
      this.service.openSession(parsed, meta?.file ? basename(meta.file) : 'recovered.svalab');
    } catch (e) {
      this.clearRecovery();
      this.notice('error', `the recovered lab could not be rebuilt: ${(e as Error).message}`);
      return 'discarded';
    }
    this.path = meta?.file ?? null;
    this.service.markUnsaved(); // restored, not saved: it stays unsaved (and autosaved) until saved
    this.updateTitle();
    return 'restored';
  }

  /* -------------------------------------------------------------------------------------------------------- */

  private async ask(o: MessageBoxOptions): Promise<number> {
    const win = this.opts.window();
    const r = win ? await dialog.showMessageBox(win, o) : await dialog.showMessageBox(o);
    return r.response;
  }

  private updateTitle(): void {
    const win = this.opts.window();
    if (win && !win.isDestroyed()) win.setTitle?.(this.title());
  }

  private notice(level: 'info' | 'error', message: string): void {
    this.service.publish('ui.notice', { level, message });
  }
}
