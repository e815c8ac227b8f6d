// Strings inside the interpreter are byte strings, as in starlark-go: each JS char code (0–255)
// is one UTF-8 byte (latin1 over the UTF-8 bytes), so len, indexing, slicing and find count
// bytes and a slice may cut a character. ASCII text is the same in both forms, so converting is
// a test and nothing else for nearly every env file. Text enters through the scanner (literals)
// and host builtins (fromText), and leaves through unpack's converters, print and error
// messages (toText / messageText).

const NON_ASCII = /[^\x00-\x7f]/;
const HIGH_BYTE = /[\x80-\xff]/;

/** The byte string of JS text (its UTF-8 bytes, one char each). */
export function fromText(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** The JS text of a byte string; invalid UTF-8 becomes U+FFFD. */
export function toText(s: string): string {
  return HIGH_BYTE.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

/** True when the string holds only ASCII (the fast path of every conversion). */
export function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

/**
 * Decodes one UTF-8 sequence of byte string `s` at `i`: [code point, width], or [-1, 1] for an
 * invalid byte (as Go's utf8.DecodeRuneInString, which returns RuneError with width 1).
 */
export function decodeRune(s: string, i: number): [number, number] {
  const b0 = s.charCodeAt(i);
  if (b0 < 0x80) return [b0, 1];
  const n = s.length;
  const cont = (k: number) => k < n && (s.charCodeAt(k) & 0xc0) === 0x80 && s.charCodeAt(k) <= 0xff;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    if (cont(i + 1)) return [((b0 & 0x1f) << 6) | (s.charCodeAt(i + 1) & 0x3f), 2];
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    if (cont(i + 1) && cont(i + 2)) {
      const cp = ((b0 & 0x0f) << 12) | ((s.charCodeAt(i + 1) & 0x3f) << 6) | (s.charCodeAt(i + 2) & 0x3f);
      if (cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) return [cp, 3];
    }
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      const cp = ((b0 & 0x07) << 18) | ((s.charCodeAt(i + 1) & 0x3f) << 12) | ((s.charCodeAt(i + 2) & 0x3f) << 6) | (s.charCodeAt(i + 3) & 0x3f);
      if (cp >= 0x10000 && cp <= 0x10ffff) return [cp, 4];
    }
  }
  return [-1, 1];
}

/** The code points of a byte string, an invalid byte as U+FFFD (as Go's range over a string). */
export function codePointsOf(s: string): { cp: number; start: number; end: number }[] {
  const out: { cp: number; start: number; end: number }[] = [];
  for (let i = 0; i < s.length; ) {
    const [cp, w] = decodeRune(s, i);
    out.push({ cp: cp < 0 ? 0xfffd : cp, start: i, end: i + w });
    i += w;
  }
  return out;
}

/** The byte string of one code point (its UTF-8 encoding). */
export function encodeRune(cp: number): string {
  return fromText(String.fromCodePoint(cp));
}

/**
 * Text for a message that mixes JS text (envserve's wording, names from the source) with byte
 * strings (reprs and str() of values): valid UTF-8 sequences among chars 0x80–0xFF are decoded,
 * everything else is kept as it is.
 */
export function messageText(s: string): string {
  if (!HIGH_BYTE.test(s)) return s;
  let out = '';
  let chunk = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xc2 || c > 0xf4) continue;
    const [cp, w] = decodeRune(s, i);
    if (cp < 0) continue;
    out += s.slice(chunk, i) + String.fromCodePoint(cp);
    i += w - 1;
    chunk = i + 1;
  }
  return out + s.slice(chunk);
}
