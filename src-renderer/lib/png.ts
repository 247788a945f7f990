/**
 * A view as PNG, in the renderer (so that the browser path works as Electron's does): the element is cloned with
 * its computed styles inlined, canvases replaced by images of their pixels, scrolled boxes shown as scrolled, and the
 * clone drawn through an SVG <foreignObject> (a data: URL, which does not taint the canvas in Chromium) onto a
 * canvas at the device's pixel ratio, over the page's background colour.
 */

/** Properties that only cost size in the inlined style (they do not change how a still picture looks). */
const SKIP = /^(transition|animation|will-change|cursor|pointer-events|user-select|-webkit-user-select|caret-color|outline-offset)/;

function inlineStyles(from: Element, to: Element): void {
  const cs = getComputedStyle(from);
  let text = '';
  for (let i = 0; i < cs.length; i++) {
    const p = cs[i]!;
    if (SKIP.test(p)) continue;
    text += `${p}:${cs.getPropertyValue(p)};`;
  }
  // through the CSSOM: the page's CSP (no inline style) refuses a style attribute set as markup
  (to as HTMLElement).style.cssText = text;
}

/** The clone, styles inlined; canvases become images; a scrolled box keeps showing what it shows. */
export function cloneForPicture(root: HTMLElement): HTMLElement {
  const clone = root.cloneNode(true) as HTMLElement;
  const walk = (a: Element, b: Element): void => {
    inlineStyles(a, b);
    if (a instanceof HTMLCanvasElement) {
      const img = b.ownerDocument.createElement('img');
      try {
        img.src = a.toDataURL('image/png');
      } catch {
        // a tainted or context-less canvas: an empty box of the same size
      }
      img.style.cssText = (b as HTMLElement).style.cssText;
      img.width = a.clientWidth;
      img.height = a.clientHeight;
      b.replaceWith(img);
      return;
    }
    if (a instanceof HTMLInputElement || a instanceof HTMLTextAreaElement) {
      // what is typed lives in the property, not the attribute the clone copied
      if (a instanceof HTMLTextAreaElement) b.textContent = a.value;
      else if (a.type === 'checkbox' || a.type === 'radio') (a.checked ? b.setAttribute('checked', '') : b.removeAttribute('checked'));
      else b.setAttribute('value', a.value);
    } else if (a instanceof HTMLSelectElement) {
      for (const [i, o] of [...(b as HTMLSelectElement).options].entries()) (i === a.selectedIndex ? o.setAttribute('selected', '') : o.removeAttribute('selected'));
    }
    const ac = a.children;
    const bc = [...b.children];
    for (let i = 0; i < ac.length; i++) if (bc[i]) walk(ac[i]!, bc[i]!);
    if (a.scrollTop || a.scrollLeft) {
      // scrolled content: shift the children the way the scroll does
      for (const c of b.children) {
        const s = (c as HTMLElement).style;
        if (!s.position || s.position === 'static') s.position = 'relative';
        s.top = `${-a.scrollTop + (parseFloat(s.top) || 0)}px`;
        s.left = `${-a.scrollLeft + (parseFloat(s.left) || 0)}px`;
      }
    }
  };
  walk(root, clone);
  clone.style.margin = '0';
  return clone;
}

/** The SVG document that draws `root` as it is on screen (size from its bounding box). */
export function pictureSvg(root: HTMLElement): { svg: string; width: number; height: number } {
  const r = root.getBoundingClientRect();
  const width = Math.max(1, Math.ceil(r.width));
  const height = Math.max(1, Math.ceil(r.height));
  const clone = cloneForPicture(root);
  clone.setAttribute('xmlns', 'http://www.w3.org/1999/xhtml');
  const xhtml = new XMLSerializer().serializeToString(clone);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><foreignObject x="0" y="0" width="${width}" height="${height}">${xhtml}</foreignObject></svg>`;
  return { svg, width, height };
}

/** The element as a PNG Blob, at the device pixel ratio (at most 3), over `background` (default: the page's). */
export async function elementToPng(root: HTMLElement, background?: string): Promise<Blob> {
  const { svg, width, height } = pictureSvg(root);
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await img.decode();
  const scale = Math.min(3, Math.max(1, globalThis.devicePixelRatio || 1));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas to draw the picture on');
  ctx.fillStyle = background ?? (getComputedStyle(document.body).backgroundColor || '#ffffff');
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the picture could not be encoded as PNG'))), 'image/png'));
}
