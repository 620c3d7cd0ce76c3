import { describe, expect, it } from '@jest/globals';
import { HTTP_STATUS, ErrorCode, RegattaError, WireError } from './errors.js';

describe(RegattaError.name, () => {
  describe('toWire/fromWire', () => {
    it('round-trips code, message, details and retry hint', () => {
      const err = new RegattaError('OVERLOADED', 'queue full', { queue: 'fraud' }, 2);
      const back = RegattaError.fromWire(WireError.parse(JSON.parse(JSON.stringify(err.toWire()))));
      expect(back).toMatchObject({
        code: 'OVERLOADED',
        message: 'queue full',
        details: { queue: 'fraud' },
        retryAfterS: 2,
      });
      expect(back.httpStatus).toBe(503);
    });
  });

  describe('from', () => {
    it('hides the text of unknown errors behind INTERNAL', () => {
      const err = RegattaError.from(new TypeError('secret path /etc/passwd'));
      expect(err.code).toBe('INTERNAL');
      expect(err.message).not.toContain('passwd');
    });
  });
});

describe('HTTP_STATUS', () => {
  it('maps every error code to a 4xx or 5xx status', () => {
    for (const code of ErrorCode.options) {
      expect(HTTP_STATUS[code]).toBeGreaterThanOrEqual(400);
      expect(HTTP_STATUS[code]).toBeLessThan(600);
    }
  });
});
