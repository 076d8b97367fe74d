// Parses a SentencePiece `tokenizer.model` (a protobuf ModelProto) with our own minimal protobuf
// reader: the pieces (text, score, type), the model type and the normalizer flags that decide how
// llama.cpp's SPM tokenizer must be configured. Field numbers from sentencepiece_model.proto.
import { ModelLoadError } from '../errors';
import { checkInputFile, readInputFileSync } from '../util/file-kind';

import { TokenType as PieceType } from '../gguf/constants';

/** SentencePiece piece types: the same ids as llama.cpp's token types. */
export { PieceType };

export enum SpModelType {
  UNIGRAM = 1,
  BPE = 2,
  WORD = 3,
  CHAR = 4,
}

export interface SpPiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface SpModel {
  pieces: SpPiece[];
  modelType: SpModelType;
  byteFallback: boolean;
  normalizerName: string;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

class ProtoReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array, readonly where: string) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  fail(msg: string): never {
    throw new ModelLoadError(`${this.where}: not a valid SentencePiece model (${msg} at byte ${this.pos})`);
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (!(b & 0x80)) return result;
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (len > this.buf.length - this.pos) this.fail(`length ${len} past the end`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  float32(): number {
    if (this.pos + 4 > this.buf.length) this.fail('truncated float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** Next field: [number, wire type]. */
  tag(): [number, number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field === 0) this.fail('field number 0');
    return [field, t & 7];
  }

  skip(wire: number): void {
    switch (wire) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: this.bytes(); return;
      case 5: this.advance(4); return;
      default: this.fail(`unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) this.fail('truncated field');
    this.pos += n;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeString(r: ProtoReader, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return r.fail('string is not UTF-8');
  }
}

function readPiece(r: ProtoReader, buf: Uint8Array): SpPiece {
  const m = new ProtoReader(buf, r.where);
  const out: SpPiece = { piece: '', score: 0, type: PieceType.NORMAL };
  while (!m.done) {
    const [f, w] = m.tag();
    if (f === 1 && w === 2) out.piece = decodeString(r, m.bytes());
    else if (f === 2 && w === 5) out.score = m.float32();
    else if (f === 3 && w === 0) out.type = m.varint();
    else m.skip(w);
  }
  if (!(out.type >= PieceType.NORMAL && out.type <= PieceType.BYTE)) r.fail(`piece '${out.piece}' has unknown type ${out.type}`);
  return out;
}

export function parseSentencePiece(buf: Uint8Array, where = 'tokenizer.model'): SpModel {
  const r = new ProtoReader(buf, where);
  const model: SpModel = {
    pieces: [],
    // proto2 defaults of sentencepiece_model.proto
    modelType: SpModelType.UNIGRAM,
    byteFallback: false,
    normalizerName: 'nmt_nfkc',
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) {
      model.pieces.push(readPiece(r, r.bytes()));
    } else if (f === 2 && w === 2) {
      const t = new ProtoReader(r.bytes(), where);
      while (!t.done) {
        const [tf, tw] = t.tag();
        if (tf === 3 && tw === 0) model.modelType = t.varint();
        else if (tf === 35 && tw === 0) model.byteFallback = t.varint() !== 0;
        else t.skip(tw);
      }
    } else if (f === 3 && w === 2) {
      const n = new ProtoReader(r.bytes(), where);
      while (!n.done) {
        const [nf, nw] = n.tag();
        if (nf === 1 && nw === 2) model.normalizerName = decodeString(r, n.bytes());
        else if (nf === 3 && nw === 0) model.addDummyPrefix = n.varint() !== 0;
        else if (nf === 4 && nw === 0) model.removeExtraWhitespaces = n.varint() !== 0;
        else if (nf === 5 && nw === 0) model.escapeWhitespaces = n.varint() !== 0;
        else n.skip(nw);
      }
    } else {
      r.skip(w);
    }
  }
  if (model.pieces.length === 0) r.fail('no pieces');
  return model;
}

export function readSentencePiece(file: string): SpModel {
  let buf: Buffer;
  checkInputFile(file, 'tokenizer');
  try {
    buf = readInputFileSync(file, 'tokenizer');
  } catch (e) {
    throw new ModelLoadError((e as Error).message, { cause: e }); // readInputFileSync names the file
  }
  return parseSentencePiece(buf, file);
}
