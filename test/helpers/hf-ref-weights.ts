// The HF vision tower and projector under the GGUF names the float64 InternViT reference reads
// (shared by the converter tests of every LLM architecture).
import { HfTensors, TINY } from './hf-checkpoint';
import { RefWeights } from '../reference/internvit';

/**
 * The obvious test-side mapping: HF tensors to the GGUF names the reference reads, shapes reversed,
 * qkv cut in thirds by hand. Independent of lib/convert/tensor-map.ts.
 */
export function hfToRefWeights(hf: HfTensors): RefWeights {
  const m: RefWeights = new Map();
  const put = (gguf: string, data: Float64Array, ne: number[]) => m.set(gguf, { ne, data });
  const t = (name: string) => hf.get(name)!;
  const same = (hfName: string, gguf: string) => put(gguf, t(hfName).data, [...t(hfName).shape].reverse());
  same('vision_model.embeddings.patch_embedding.weight', 'v.patch_embd.weight');
  same('vision_model.embeddings.patch_embedding.bias', 'v.patch_embd.bias');
  same('vision_model.embeddings.class_embedding', 'v.class_embd');
  same('vision_model.embeddings.position_embedding', 'v.position_embd.weight');
  const H = TINY.vision.hidden;
  for (let i = 0; i < TINY.vision.layers; i++) {
    const hf = `vision_model.encoder.layers.${i}.`;
    const b = `v.blk.${i}.`;
    const w = t(`${hf}attn.qkv.weight`).data, bias = t(`${hf}attn.qkv.bias`).data;
    ['q', 'k', 'v'].forEach((p, j) => {
      put(`${b}attn_${p}.weight`, w.slice(j * H * H, (j + 1) * H * H), [H, H]);
      put(`${b}attn_${p}.bias`, bias.slice(j * H, (j + 1) * H), [H]);
    });
    same(`${hf}attn.proj.weight`, `${b}attn_out.weight`);
    same(`${hf}attn.proj.bias`, `${b}attn_out.bias`);
    same(`${hf}mlp.fc1.weight`, `${b}ffn_up.weight`);
    same(`${hf}mlp.fc1.bias`, `${b}ffn_up.bias`);
    same(`${hf}mlp.fc2.weight`, `${b}ffn_down.weight`);
    same(`${hf}mlp.fc2.bias`, `${b}ffn_down.bias`);
    same(`${hf}norm1.weight`, `${b}ln1.weight`);
    same(`${hf}norm1.bias`, `${b}ln1.bias`);
    same(`${hf}norm2.weight`, `${b}ln2.weight`);
    same(`${hf}norm2.bias`, `${b}ln2.bias`);
    same(`${hf}ls1`, `${b}ls1.weight`);
    same(`${hf}ls2`, `${b}ls2.weight`);
  }
  for (const k of ['0', '1', '3']) {
    same(`mlp1.${k}.weight`, `mm.model.mlp.${k}.weight`);
    same(`mlp1.${k}.bias`, `mm.model.mlp.${k}.bias`);
  }
  return m;
}

