// GPT-2's byte-level alphabet (HF tokenizers `ByteLevel`, used by Qwen2): each of the 256 byte
// values is written as one printable character, so a byte-level BPE vocabulary holds text such
// as "Ġthe" (Ġ = the space byte). Printable Latin-1 bytes stand for themselves; the other 68
// bytes take the characters from U+0100 up, in byte order.

function buildAlphabet(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(printable(b) ? b : next++));
  return chars;
}

/** BYTE_CHARS[b]: the character that stands for byte b. */
export const BYTE_CHARS: readonly string[] = buildAlphabet();
