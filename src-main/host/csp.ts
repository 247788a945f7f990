/**
 * The Content-Security-Policy both hosts send with the renderer: its own files only, no eval, no inline script or
 * style (Svelte sets dynamic styles through the CSSOM, which CSP allows), no framing, no plugins. The web host adds
 * its WebSocket origin to connect-src.
 */
export function contentSecurityPolicy(wsOrigin?: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${wsOrigin ? ` ${wsOrigin}` : ''}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}
