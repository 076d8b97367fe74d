// Bad input to `convert` becomes a typed error (never a crash), found before anything is written,
// and a conversion that fails while writing (a full disk) leaves no output file behind. Also the
// CLI's exit codes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { convertCheckpoint } from '../lib/convert/convert';
import { TEXT_TYPES } from '../lib/convert/quant-rules';
import { readSafetensorsHeader } from '../lib/convert/safetensors';
import { parseSentencePiece } from '../lib/convert/sentencepiece';
import { MiniMonkeyError } from '../lib/errors';
import { writeHfCheckpoint, writeSafetensors } from './helpers/hf-checkpoint';
import { editJson, expectConvertError } from './helpers/convert-expect';
import { tempDir } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
let n = 0;

/** A fresh copy of the tiny checkpoint to break. */
function fresh(opts: { sharded?: boolean } = {}) {
  return writeHfCheckpoint(path.join(tempDir(), 'bad', `ckpt-${++n}`), { seed: 4, ...opts });
}

const expectCode = expectConvertError;

describe('convert: bad input gives typed errors', () => {
  it('missing folder, config.json, tokenizer.model, weights, shard', async () => {
    await expectCode(path.join(tempDir(), 'nope'), 'MODEL_LOAD', /no such checkpoint folder/);
    let c = fresh();
    fs.rmSync(path.join(c.dir, 'config.json'));
    await expectCode(c.dir, 'MODEL_LOAD', /config\.json/);
    c = fresh();
    fs.rmSync(path.join(c.dir, 'tokenizer.model'));
    await expectCode(c.dir, 'MODEL_LOAD', /no tokenizer\.model/);
    c = fresh();
    fs.rmSync(path.join(c.dir, 'model.safetensors'));
    await expectCode(c.dir, 'MODEL_LOAD', /no model\.safetensors/);
    fs.writeFileSync(path.join(c.dir, 'pytorch_model.bin'), 'x');
    await expectCode(c.dir, 'UNSUPPORTED', /PyTorch \.bin/);
    c = fresh({ sharded: true });
    fs.rmSync(path.join(c.dir, 'model-00002-of-00002.safetensors'));
    await expectCode(c.dir, 'MODEL_LOAD', /shard 'model-00002-of-00002\.safetensors'.*missing/);
  });

  it('unknown or unsupported architectures', async () => {
    let c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.llm_config.architectures = ['Phi3ForCausalLM']));
    await expectCode(c.dir, 'UNSUPPORTED', /language model 'Phi3ForCausalLM' is not supported/);
    c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => {
      delete j.vision_config;
      j.architectures = ['BertModel'];
    });
    await expectCode(c.dir, 'UNSUPPORTED', /'BertModel' is not an InternVL2-style model/);
    c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.vision_config.qk_normalization = true));
    await expectCode(c.dir, 'UNSUPPORTED', /qk_normalization/);
    c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.ps_version = 'v1'));
    await expectCode(c.dir, 'UNSUPPORTED', /ps_version/);
  });

  it('shapes that do not match config.json, and malformed config values', async () => {
    let c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.llm_config.intermediate_size = 96));
    await expectCode(c.dir, 'MODEL_LOAD', /feed_forward\.w1\.weight' has shape \[128, 64\], config\.json implies \[96, 64\]/);
    c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.vision_config.hidden_size = 48));
    await expectCode(c.dir, 'MODEL_LOAD', /has shape/);
    c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.llm_config.num_attention_heads = 'four'));
    await expectCode(c.dir, 'MODEL_LOAD', /num_attention_heads must be a positive integer/);
    c = fresh();
    fs.writeFileSync(path.join(c.dir, 'config.json'), '{ not json');
    await expectCode(c.dir, 'MODEL_LOAD', /not valid JSON/);
  });

  it('unsupported dtypes, corrupt safetensors, unmapped tensors', async () => {
    let c = fresh();
    const file = path.join(c.dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    // Same header length: "BF16" → "I16" plus a space, which JSON allows.
    const patched = bytes.toString('latin1').replace('"dtype":"BF16"', '"dtype":"I16" ');
    fs.writeFileSync(file, Buffer.from(patched, 'latin1'));
    await expectCode(c.dir, 'UNSUPPORTED', /dtype I16; the converter reads BF16, F16 and F32/);
    c = fresh();
    fs.truncateSync(path.join(c.dir, 'model.safetensors'), 5000);
    await expectCode(c.dir, 'MODEL_LOAD', /not a valid safetensors file/);
    c = fresh();
    fs.writeFileSync(path.join(c.dir, 'model.safetensors'), Buffer.alloc(64, 0xff));
    await expectCode(c.dir, 'MODEL_LOAD', /not a valid safetensors file/);
    c = fresh();
    const extra = new Map(c.tensors).set('vision_model.post_layernorm.weight', { shape: [32], data: new Float64Array(32) });
    writeSafetensors(path.join(c.dir, 'model.safetensors'), [...extra.keys()], extra);
    await expectCode(c.dir, 'UNSUPPORTED', /1 checkpoint tensor\(s\) have no GGUF mapping: 'vision_model\.post_layernorm\.weight'/);
  });

  it('corrupt tokenizer files', async () => {
    let c = fresh();
    const sp = path.join(c.dir, 'tokenizer.model');
    fs.writeFileSync(sp, fs.readFileSync(sp).subarray(0, 1001));
    await expectCode(c.dir, 'MODEL_LOAD', /not a valid SentencePiece model/);
    c = fresh();
    fs.writeFileSync(path.join(c.dir, 'tokenizer.model'), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    await expectCode(c.dir, 'MODEL_LOAD', /not a valid SentencePiece model/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer_config.json'), (j) => (j.bos_token = '<nope>'));
    await expectCode(c.dir, 'MODEL_LOAD', /bos_token '<nope>' is not in the vocabulary/);
    c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.llm_config.vocab_size = 100));
    await expectCode(c.dir, 'MODEL_LOAD', /tok_embeddings\.weight' has shape/);
  });
});

describe('an aborted conversion', () => {
  it('stops with ABORTED and leaves no file of the pair', async () => {
    const c = fresh();
    const outDir = path.join(tempDir(), 'aborted');
    const ac = new AbortController();
    let seen = 0;
    const err = await convertCheckpoint({
      checkpointDir: c.dir, outDir, textType: 'f32', visionType: 'f32', signal: ac.signal,
      // abort in the middle of the second file, after the first is complete
      onProgress: (p) => {
        seen++;
        if (!path.basename(p.file).startsWith('mmproj-') && p.done === 3) ac.abort();
      },
    }).then(() => undefined, (e: unknown) => e);
    expect((err as MiniMonkeyError).code).toBe('ABORTED');
    expect(seen).toBeGreaterThan(3);
    expect(fs.readdirSync(outDir)).toEqual([]);
  });
});

describe('mutated tokenizer.model and safetensors headers never crash', () => {
  it('300 random byte mutations give a parse or a typed MODEL_LOAD / UNSUPPORTED error', () => {
    const c = fresh();
    const sp = fs.readFileSync(path.join(c.dir, 'tokenizer.model'));
    const st = fs.readFileSync(path.join(c.dir, 'model.safetensors'));
    const headerEnd = 8 + Number(st.readBigUInt64LE(0));
    let seed = 99;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const target = i % 2 === 0 ? 'sp' : 'st';
      // the safetensors file keeps its data; only its length prefix and JSON header are mutated
      const bytes = Buffer.from(target === 'sp' ? sp : st);
      const span = target === 'sp' ? bytes.length : headerEnd;
      for (let k = 0; k <= rand(4); k++) bytes[rand(span)] = rand(256);
      const file = path.join(tempDir(), 'fuzz-input');
      fs.writeFileSync(file, bytes);
      let outcome = 'parsed';
      try {
        if (target === 'sp') parseSentencePiece(bytes, file);
        else readSafetensorsHeader(file);
      } catch (e) {
        expect(e).toBeInstanceOf(MiniMonkeyError);
        outcome = (e as MiniMonkeyError).code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    process.stderr.write(`fuzz outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}\n`);
    expect(outcomes.get('MODEL_LOAD')).toBeGreaterThan(50);
    expect(outcomes.get('parsed')).toBeGreaterThan(10);
    expect([...outcomes.keys()].every((k) => ['parsed', 'MODEL_LOAD', 'UNSUPPORTED'].includes(k))).toBe(true);
  });
});

describe('minimonkey convert (CLI)', () => {
  const run = (args: string[], limitKb?: number) =>
    limitKb === undefined
      ? spawnSync(process.execPath, [cli, 'convert', ...args], { encoding: 'utf8' })
      // A file-size limit makes writes fail with EFBIG, as a full disk fails them with ENOSPC.
      : spawnSync('bash', ['-c', `ulimit -f ${limitKb}; exec "$0" "$@"`, process.execPath, cli, 'convert', ...args], { encoding: 'utf8' });

  it('--help exits 0; bad usage exits 2', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: minimonkey convert <checkpoint-dir> --out DIR/);
    expect(run([]).status).toBe(2);
    expect(run(['x']).stderr).toMatch(/--out is required/);
    const bad = run(['x', '--out', 'y', '--text-type', 'q3_k']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`--text-type must be one of ${TEXT_TYPES.join(', ')}`);
  });

  it('converts, printing both paths; a failed conversion exits 1 with the error code', () => {
    const c = fresh({ sharded: true });
    const out = path.join(tempDir(), 'cli-convert');
    const r = run([c.dir, '--out', out, '--text-type', 'q8_0', '--vision-type', 'q8_0', '--name', 'MM']);
    expect(r.stderr).toMatch(/tensors/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([path.join(out, 'mmproj-mm-q8_0.gguf'), path.join(out, 'mm-q8_0.gguf')]);
    const missing = run([path.join(tempDir(), 'nope'), '--out', out]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/\[MODEL_LOAD\]/);
  });

  it('a full disk → IO error, and neither file of the pair is left behind', () => {
    const c = fresh();
    const out = path.join(tempDir(), 'cli-full');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'unrelated');
    // The f32 mmproj (~330 KB) fits under 400 KB; the f32 text model (~680 KB) does not.
    const r = run([c.dir, '--out', out, '--text-type', 'f32', '--vision-type', 'f32'], 400);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/file size limit was reached.*\[IO\]/);
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    // the same conversion without the limit succeeds, so the limit was what failed it
    const ok = run([c.dir, '--out', out, '--text-type', 'f32', '--vision-type', 'f32']);
    expect(ok.status).toBe(0);
    expect(fs.readdirSync(out).sort()).toHaveLength(3);
  });
});
