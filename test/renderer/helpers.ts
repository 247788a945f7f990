/** Shared set-up for the component tests: a Connection over the fake API, and a canvas that records its calls. */
import type { Connection } from '../../src-renderer/lib/api.js';
import type { FakeApi } from './fake-api.js';

export function fakeConnection(fake: FakeApi): Connection {
  return { api: fake.api, kind: 'web', ready: Promise.resolve(), onState: (cb) => (cb('open'), () => undefined) };
}

export interface CanvasLog {
  /** putImageData dirty rectangles, [x, y, w, h], on the 1024x1024 backing canvas. */
  puts: number[][];
  /** drawImage calls (viewport blits). */
  blits: number;
}

/** jsdom has no canvas: a 2D context that records what the PASID view draws. */
export function installCanvas(): CanvasLog {
  const log: CanvasLog = { puts: [], blits: 0 };
  const noop = (): void => undefined;
  const ctx = {
    putImageData: (_img: unknown, _x: number, _y: number, ...r: number[]) => void log.puts.push(r),
    drawImage: () => void log.blits++,
    setTransform: noop,
    clearRect: noop,
    beginPath: noop,
    moveTo: noop,
    lineTo: noop,
    stroke: noop,
    strokeRect: noop,
    fillText: noop,
    setLineDash: noop,
    set imageSmoothingEnabled(_v: boolean) {},
    set strokeStyle(_v: string) {},
    set fillStyle(_v: string) {},
    set lineWidth(_v: number) {},
    set font(_v: string) {},
  };
  HTMLCanvasElement.prototype.getContext = (() => ctx) as unknown as HTMLCanvasElement['getContext'];
  (globalThis as Record<string, unknown>).ImageData ??= class {
    constructor(
      readonly data: Uint8ClampedArray,
      readonly width: number,
      readonly height: number,
    ) {}
  };
  return log;
}
