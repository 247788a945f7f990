/**
 * Trace records as indented text, the way one would paste them into a mail:
 *
 *   iommu_sva_bind_device(dev=gpu, mm=p1/mm0)
 *     iommu_alloc_global_pasid(dev=gpu, range=[1,1048575]) = 4
 *       ida[4]: - -> allocated
 *   = ok
 */
import type { Json, TraceRecord } from '../sim/kernel/trace.js';

function show(v: Json | undefined): string {
  if (v === null || v === undefined) return '-';
  if (v === 0xffffffff) return 'IOMMU_PASID_INVALID';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function showRet(ret: Json): string {
  if (ret === null) return '';
  if (typeof ret === 'object' && !Array.isArray(ret) && 'ok' in ret) {
    if (ret.ok === false) return ` = -${String(ret.errno)} (${String(ret.why)})`;
    const rest = Object.entries(ret).filter(([k]) => k !== 'ok');
    return rest.length ? ` = ok, ${rest.map(([k, v]) => `${k} ${summarize(v)}`).join(', ')}` : ' = ok';
  }
  return ` = ${show(ret)}`;
}

function summarize(v: Json): string {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    if ('pasid' in v) return `{pasid ${show(v.pasid)}}`;
    return '{…}';
  }
  return show(v);
}

export function formatTrace(records: TraceRecord[]): string {
  const lines: string[] = [];
  // A call whose only content is its return folds onto one line.
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const pad = '  '.repeat(r.d);
    switch (r.t) {
      case 'call': {
        const head = `${pad}${r.fn}(${Object.entries(r.args).map(([k, v]) => `${k}=${show(v)}`).join(', ')})`;
        const next = records[i + 1];
        if (next && next.t === 'ret' && next.fn === r.fn) {
          lines.push(head + showRet(next.ret));
          i++;
        } else lines.push(head);
        break;
      }
      case 'ret':
        lines.push(`${pad}${showRet(r.ret).trimStart() || '= done'}`);
        break;
      case 'set':
        lines.push(`${pad}${r.obj}.${r.field}: ${r.from === undefined ? '' : show(r.from) + ' -> '}${show(r.to)}`);
        break;
      case 'note':
        lines.push(`${pad}# ${r.msg}`);
        break;
    }
  }
  return lines.join('\n');
}
