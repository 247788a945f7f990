/**
 * Light and dark themes: `auto` follows prefers-color-scheme (CSS media query, no script needed); the toggle pins
 * `light` or `dark` through data-theme on <html> and remembers the choice.
 */
export type ThemeMode = 'auto' | 'light' | 'dark';

const KEY = 'svalab.theme';

export class Theme {
  mode = $state<ThemeMode>('auto');
  /** prefers-color-scheme: dark, kept from the media query's change events (reading `effective` queries nothing). */
  private systemDark = $state(false);

  constructor(private readonly root: HTMLElement = document.documentElement, private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null = safeStorage()) {
    const saved = this.storage?.getItem(KEY);
    if (saved === 'light' || saved === 'dark' || saved === 'auto') this.mode = saved;
    const mq = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
    this.systemDark = mq?.matches ?? false;
    mq?.addEventListener?.('change', (e) => (this.systemDark = e.matches));
    this.apply();
  }

  /** auto -> light -> dark -> auto. */
  cycle(): void {
    this.set(this.mode === 'auto' ? 'light' : this.mode === 'light' ? 'dark' : 'auto');
  }

  set(m: ThemeMode): void {
    this.mode = m;
    this.storage?.setItem(KEY, m);
    this.apply();
  }

  /** The theme in effect (auto resolved through the media query). */
  get effective(): 'light' | 'dark' {
    if (this.mode !== 'auto') return this.mode;
    return this.systemDark ? 'dark' : 'light';
  }

  private apply(): void {
    if (this.mode === 'auto') delete this.root.dataset.theme;
    else this.root.dataset.theme = this.mode;
  }
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
