// @vitest-environment jsdom
// The virtualised list: fixed-height rows, only the window in view (plus overscan) in the DOM, following scrollTo
// without reading layout, and O(rows in view) whatever the count.
import { render } from '@testing-library/svelte';
import { createRawSnippet, flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';
import VirtualList from '../../src-renderer/components/VirtualList.svelte';

const row = createRawSnippet((i: () => number) => ({ render: () => `<span class="cell">row ${i()}</span>` }));
const shown = (): number[] => [...document.querySelectorAll<HTMLElement>('[data-testid="vl"] .row')].map((r) => Number(r.dataset.index));

describe('VirtualList', () => {
  it('renders only the rows that fit (fallback height without layout) plus overscan, for a million rows', () => {
    render(VirtualList, { props: { count: 1 << 20, rowHeight: 20, row, fallbackHeight: 200, label: 'rows', testid: 'vl' } });
    expect(shown()).toEqual(Array.from({ length: 18 }, (_, i) => i)); // 10 in view + 8 overscan
    const inner = document.querySelector<HTMLElement>('[data-testid="vl"] .inner')!;
    expect(inner.style.height).toBe(`${(1 << 20) * 20}px`);
  });

  it('scrolls just enough to show scrollTo, and follows a growing list', async () => {
    const props = $state({ count: 10_000, rowHeight: 20, row, fallbackHeight: 200, label: 'rows', testid: 'vl', scrollTo: 5000 as number | null });
    render(VirtualList, { props });
    await Promise.resolve();
    const scroller = document.querySelector<HTMLElement>('[data-testid="vl"]')!;
    expect(scroller.scrollTop).toBe(5001 * 20 - 200); // row 5000 at the bottom edge
    expect(shown()).toContain(5000);
    expect(shown().length).toBeLessThanOrEqual(10 + 2 * 8 + 1);
    // A row appended and selected (the timeline after a step): the window moves by one row.
    props.count = 10_001;
    props.scrollTo = 10_000;
    flushSync();
    await Promise.resolve();
    expect(scroller.scrollTop).toBe(10_001 * 20 - 200);
    expect(shown()).toContain(10_000);
    // A row already in view: no scroll.
    props.scrollTo = 9_995;
    flushSync();
    await Promise.resolve();
    expect(scroller.scrollTop).toBe(10_001 * 20 - 200);
  });
});
