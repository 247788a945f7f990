/**
 * `svalab serve`: the web host (src-main/host/web/server.ts) from the command line. Prints the address with its
 * token and serves until SIGINT or SIGTERM (or until `stop` resolves, for tests).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { PolicyName } from '../../shared/steps.js';
import { packageVersion, rendererDir } from '../lab/paths.js';
import { LabService } from '../host/service.js';
import { startWebHost, type WebHost } from '../host/web/server.js';
import type { Io } from './main.js';

export interface ServeOpts {
  port: string;
  host: string;
  policy: PolicyName;
  file?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Starts the web host; resolves with the exit code once stopped. `started` sees the host (tests). */
export async function serveCommand(
  opts: ServeOpts,
  io: Io,
  hooks: { started?: (h: WebHost) => void; stop?: Promise<void>; rendererDir?: string } = {},
): Promise<number> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.err(`svalab serve: --port must be an integer 0..65535, not '${opts.port}'\n`);
    return 2;
  }
  const service = new LabService({ policy: opts.policy, version: packageVersion() });
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      io.err(`svalab serve: cannot read ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return 2;
    }
    const r = service.request('lab.loadScenario', { name: basename(opts.file), text });
    if (!r.ok) {
      io.err(`invalid: ${r.error.message}\n`);
      return 2;
    }
  }
  let host: WebHost;
  try {
    host = await startWebHost({ service, rendererDir: hooks.rendererDir ?? rendererDir(), port, host: opts.host });
  } catch (e) {
    io.err(`svalab serve: cannot listen on ${opts.host}:${port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 2;
  }
  if (!LOOPBACK.has(opts.host)) io.err(`svalab serve: warning: bound to ${opts.host}; anyone who can reach it and has the token can drive the lab\n`);
  io.out(`SVA Lab: open ${host.url}\n`);
  io.out('(the token in that address is required; Ctrl+C stops the server)\n');
  hooks.started?.(host);
  await (hooks.stop ??
    new Promise<void>((ok) => {
      const done = (): void => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        ok();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
    }));
  await host.close();
  return 0;
}
