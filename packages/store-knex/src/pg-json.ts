/**
 * PostgreSQL's `jsonb` refuses two things `JSON.stringify` can produce: the escape
 * `\u0000` (NUL) and escapes of lone surrogates (`\ud800`). A session value may
 * hold either, so before a record goes into `jsonb` these escapes are rewritten
 * into a private-use marker U+E000 followed by the four hex digits, and a real
 * U+E000 is doubled. The mapping works on the JSON text, is exactly reversible,
 * and leaves records without such characters untouched (the common case costs
 * two `includes` scans).
 */
const MARK = '\uE000';
// An escape is a backslash preceded by an even number of backslashes (a `\\`
// pair is an escaped backslash, not the start of an escape).
const UNSAFE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})/g;
const ENCODED = /\uE000(?:(\uE000)|([0-9a-fA-F]{4}))/g;

export function encodeForJsonb(json: string): string {
  if (!json.includes('\\u') && !json.includes(MARK)) return json;
  return json.replaceAll(MARK, MARK + MARK).replace(UNSAFE_ESCAPE, (_all, pairs: string, hex: string) => `${pairs}${MARK}${hex}`);
}

export function decodeFromJsonb(text: string): string {
  if (!text.includes(MARK)) return text;
  return text.replace(ENCODED, (_all, mark: string | undefined, hex: string | undefined) => (mark ? MARK : `\\u${hex}`));
}
