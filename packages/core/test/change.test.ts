import { describe, expect, it } from 'vitest';
import { applyChange, emptyRecord, type SessionChange } from '../src/index.js';

describe('applyChange', () => {
  it('applies clear, remove, put, increment in that order', () => {
    const base = { ...emptyRecord(1), data: { a: 1, b: 2, n: 5 } };
    const { record } = applyChange(base, { remove: ['a'], put: { c: 3, n: 10 }, increment: { n: 2, m: 1 }, lastSeen: 2 });
    expect(record!.data).toEqual({ b: 2, c: 3, n: 12, m: 1 });
    expect(applyChange(base, { clear: true, put: { z: 1 }, lastSeen: 2 }).record!.data).toEqual({ z: 1 });
  });

  it('counts a non-numeric increment, as it may arrive in JSON, as 0', () => {
    const base = { ...emptyRecord(1), data: { n: 5, s: 'text' } };
    const change = JSON.parse('{"increment": {"n": null, "s": 2, "x": "7"}, "lastSeen": 2}') as SessionChange;
    expect(applyChange(base, change).record!.data).toEqual({ n: 5, s: 2, x: 0 });
  });

  it('with ifExists and no record writes nothing', () => {
    expect(applyChange(undefined, { ifExists: true, put: { a: 1 }, lastSeen: 1 })).toEqual({ record: undefined, existed: false, consumedTokens: [], consumedFlash: {} });
  });

  it('keeps the newest 20 tokens and reports consumed ones once', () => {
    const tokens = Array.from({ length: 19 }, (_, i) => `t${i}`);
    const { record, consumedTokens } = applyChange({ ...emptyRecord(1), tokens }, { consumeTokens: ['t3', 'nope'], addTokens: ['u1', 'u2', 'u3'], lastSeen: 2 });
    expect(consumedTokens).toEqual(['t3']);
    expect(record!.tokens).toHaveLength(20);
    expect(record!.tokens.slice(-3)).toEqual(['u1', 'u2', 'u3']);
    expect(record!.tokens).not.toContain('t3');
  });

  it('does not mutate its input and never moves lastSeen backwards', () => {
    const base = { ...emptyRecord(100), data: { a: { deep: 1 } } };
    const frozen = JSON.stringify(base);
    const { record } = applyChange(base, { put: { b: 1 }, flash: { f: 1 }, lastSeen: 50 });
    expect(JSON.stringify(base)).toBe(frozen);
    expect(record!.lastSeen).toBe(100);
  });
});
