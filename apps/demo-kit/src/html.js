const SAFE = Symbol('safe html');

/**
 * @typedef {{ [SAFE]: true, value: string, toString(): string }} SafeHtml
 */

/** @param {string} value @returns {SafeHtml} */
export function raw(value) {
  return { [SAFE]: true, value, toString: () => value };
}

/** @param {unknown} value */
export function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** @param {unknown} value @returns {string} */
function render(value) {
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'object' && SAFE in value) return /** @type {SafeHtml} */ (value).value;
  return escapeHtml(value);
}

/**
 * Template literal tag: interpolated values are escaped, except arrays of, and
 * values made by, `html` or `raw`. Why: the pages print user names and
 * session data, which a visitor controls.
 * @example html`<p>Hello ${name}</p>`
 * @param {TemplateStringsArray} strings
 * @param {...unknown} values
 * @returns {SafeHtml}
 */
export function html(strings, ...values) {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1];
  });
  return raw(out);
}
