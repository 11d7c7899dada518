// Text from the outside (event fields, trace contents, user input) made safe to print
// to a terminal or a text file: a crafted field must not move the cursor, set the
// clipboard (OSC 52), retitle the window or hide what follows it.

/**
 * What gets neutralised: C0 controls (ESC, BEL, CR, TAB, ...), DEL, C1 controls
 * (U+0080-U+009F: U+009B is a one-character CSI to some terminals), the bidi embeddings,
 * overrides and isolates (they reorder what the line shows), the Unicode line and
 * paragraph separators, the invisible ones (zero-width space, joiners, marks, word joiner,
 * byte-order mark: they make look-alike names), and unpaired surrogates (not text; their UTF-8
 * is invalid).
 * With the u flag, [\ud800-\udfff] matches only unpaired surrogates.
 */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|[\ud800-\udfff]/gu;

/**
 * Escapes as visible text: below U+0100 as `\xHH` (so ESC shows as `\x1b`, as a C
 * string would write it), the other controls as `\uHHHH`, an unpaired surrogate as
 * U+FFFD (what any UTF-8 encoder would write for it). Nothing else changes, so the
 * result is idempotent and plain text passes through without a copy.
 */
function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
  const hex = code.toString(16);
  return code < 0x100 ? `\\x${hex.padStart(2, '0')}` : `\\u${hex.padStart(4, '0')}`;
}

/** One line of output: every control character, newlines included, shown escaped. */
export function printable(s: string): string {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s) ? s.replace(UNSAFE, escapeChar) : s;
}

/** Text of several lines: newlines kept, each line made printable. */
export function printableLines(s: string): string {
  return s.split('\n').map(printable).join('\n');
}

/** Raw in JSON strings (JSON.stringify escapes only U+0000-U+001F and unpaired surrogates). */
const JSON_UNSAFE = /[\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * JSON text with DEL, C1 and the other characters above written as \uHHHH escapes: the
 * same JSON value, but nothing a terminal acts on. Safe on any JSON text, since those
 * characters can only occur inside its strings.
 */
export function printableJson(json: string): string {
  JSON_UNSAFE.lastIndex = 0;
  return JSON_UNSAFE.test(json)
    ? json.replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : json;
}
