// A fast path for YAML output: data made only of maps, lists, safe integers, booleans, null and
// strings that need no quoting is written here, byte for byte as the `yaml` package writes it
// (2-space indent, lists indented under their key). Anything else returns undefined and the
// caller uses the package. `render` of 10,000 Services spent most of its time in the package.

/** Plain-safe strings: no quoting, no other YAML 1.1 meaning (bool, null, number, date). */
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const YAML11_WORDS = /^(?:y|n|yes|no|on|off|true|false|null)$/i;

function plainString(s: string): boolean {
  return PLAIN.test(s) && !YAML11_WORDS.test(s) && !s.endsWith('.') && !s.includes('//');
}

/** YAML text of `data` as `yaml`'s stringify writes it, or undefined when it is not simple. */
export function plainYaml(data: unknown): string | undefined {
  const out: string[] = [];
  return block(data, '', out) ? out.join('') : undefined;
}

// Writes a value that starts a line of its own (a document, or a map/list below a key).
function block(v: unknown, indent: string, out: string[]): boolean {
  if (Array.isArray(v)) {
    if (v.length === 0) return scalarLine('[]', out);
    for (const e of v) {
      out.push(indent, '- ');
      if (!inline(e, indent + '  ', out)) return false;
    }
    return true;
  }
  if (isMap(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) return scalarLine('{}', out);
    for (const k of keys) {
      out.push(indent);
      if (!entry(k, v[k], indent, out)) return false;
    }
    return true;
  }
  const s = scalar(v);
  return s !== undefined && scalarLine(s, out);
}

// Writes a value after "- " on the current line (a list item).
function inline(v: unknown, indent: string, out: string[]): boolean {
  if (Array.isArray(v)) return false; // a list in a list: leave it to the package
  if (isMap(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) return scalarLine('{}', out);
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) out.push(indent);
      if (!entry(keys[i]!, v[keys[i]!], indent, out)) return false;
    }
    return true;
  }
  const s = scalar(v);
  return s !== undefined && scalarLine(s, out);
}

// Writes `key: value` (the indent is already written).
function entry(k: string, v: unknown, indent: string, out: string[]): boolean {
  if (!plainString(k)) return false;
  if (v === undefined) return false; // the package drops such keys; not worth copying
  if ((Array.isArray(v) && v.length > 0) || (isMap(v) && Object.keys(v).length > 0)) {
    out.push(k, ':\n');
    return block(v, indent + '  ', out);
  }
  out.push(k, ': ');
  return Array.isArray(v) ? scalarLine('[]', out) : isMap(v) ? scalarLine('{}', out) : inline(v, indent, out);
}

function scalar(v: unknown): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : undefined;
  if (typeof v === 'string') return plainString(v) ? v : undefined;
  return undefined;
}

function scalarLine(s: string, out: string[]): true {
  out.push(s, '\n');
  return true;
}

function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
