/**
 * Response headers compared by what they mean, not by how a framework spells them (compare.ts).
 */

/**
 * A media type by its meaning (RFC 9110 §8.3.1): type, subtype, parameter names and the charset
 * are case-insensitive, the order of parameters, white space around `;` and quotes around a value
 * mean nothing, and JSON has no charset but UTF-8 (RFC 8259 §11), so
 * `application/json;charset=UTF-8` is `application/json; charset=utf-8` is `application/json`.
 * Compared as written, a service whose framework spells it another way differed from legacy on
 * every answer, and no rule could be flipped without giving up the content-type check.
 */
export function mediaTypeKey(value: string): string {
  const [type = '', ...params] = value.split(';');
  const essence = type.trim().toLowerCase();
  const json = /^application\/(?:[^;]*\+)?json$/.test(essence);
  const kept = params
    .map((p) => {
      const eq = p.indexOf('=');
      const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
      let v = eq < 0 ? '' : p.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      return { name, v: name === 'charset' ? v.toLowerCase() : v };
    })
    .filter((p) => p.name !== '' && !(json && p.name === 'charset' && p.v === 'utf-8'))
    .map((p) => `${p.name}=${p.v}`)
    .sort();
  return [essence, ...kept].join(';');
}

/** Equal values of a compared header: as written, or for content-type by meaning. */
export function sameHeader(name: string, a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return name === 'content-type' && mediaTypeKey(a) === mediaTypeKey(b);
}
