import { describe, expect, it } from '@jest/globals';
import helmet from 'helmet';
import { securityHeaders } from './security.js';

/** What helmet's own middleware sets on a response for `options`, applied the usual way (once per response). */
function appliedByHelmet(options: Parameters<typeof helmet>[0]): Map<string, string> {
  const headers = new Map<string, string>();
  helmet(options)(
    {} as never,
    {
      setHeader: (name: string, value: unknown) => headers.set(name, String(value)),
      removeHeader: (name: string) => headers.delete(name),
    } as never,
    () => undefined,
  );
  return headers;
}

describe(securityHeaders.name, () => {
  it("gives exactly the headers helmet's middleware sets, defaults included", () => {
    const options = { contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"] } } };
    const headers = securityHeaders(options);
    expect(new Map(headers)).toEqual(appliedByHelmet(options));
    expect(new Map(headers).get('Content-Security-Policy')).toBe("default-src 'none'");
    expect(new Map(headers).get('X-Content-Type-Options')).toBe('nosniff');
    expect(headers.length).toBeGreaterThanOrEqual(12);
  });

  it('leaves out what the options turn off', () => {
    const headers = new Map(securityHeaders({ contentSecurityPolicy: false, xFrameOptions: false }));
    expect(headers.has('Content-Security-Policy')).toBe(false);
    expect(headers.has('X-Frame-Options')).toBe(false);
    expect(headers.get('Referrer-Policy')).toBe('no-referrer');
  });

  it('refuses options helmet refuses, at start rather than per request', () => {
    expect(() =>
      securityHeaders({
        contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ['none'] } },
      }),
    ).toThrow(/none/);
  });
});
