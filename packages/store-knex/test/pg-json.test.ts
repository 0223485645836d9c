import { describe, expect, it } from 'vitest';
import { decodeFromJsonb, encodeForJsonb } from '../src/pg-json.js';

/** Strings built from the characters that matter to the escape rewriting. */
function trickyStrings(count: number, seed = 7): string[] {
  const parts = ['\\', 'u', '0', 'd', '8', 'D', 'f', 'a', '\uE000', '\u0000', '\ud800', '\udfff', '\ud83d\ude00', '"', 'x', '\u0001'];
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: count }, () => Array.from({ length: Math.floor(random() * 12) }, () => parts[Math.floor(random() * parts.length)]).join(''));
}

describe('jsonb escape rewriting', () => {
  it('round-trips 2,000 tricky strings exactly, as values and as keys', () => {
    for (const s of trickyStrings(2000)) {
      const json = JSON.stringify({ [s]: s });
      const back = JSON.parse(decodeFromJsonb(encodeForJsonb(json))) as Record<string, string>;
      expect(back).toEqual({ [s]: s });
    }
  });

  it('leaves no \\u0000 or lone-surrogate escape for jsonb to refuse', () => {
    for (const s of trickyStrings(2000, 11)) {
      const encoded = encodeForJsonb(JSON.stringify(s));
      expect(encoded).not.toMatch(/(?<!\\)(?:\\\\)*\\u(0000|d[89a-f])/i);
    }
  });

  it('leaves plain JSON untouched', () => {
    const json = JSON.stringify({ a: 'plain \\ text', b: [1, 2], c: 'ünï 🎉' });
    expect(encodeForJsonb(json)).toBe(json);
    expect(decodeFromJsonb(json)).toBe(json);
  });
});
