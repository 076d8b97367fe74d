// The two files loaded as a pair: the text model (libllama) and the vision projector (our ggml
// InternViT), off the JS thread, then checked to belong together (embedding width, the family's
// special tokens, embeddings per tile). Whatever fails, nothing loaded stays allocated.
import { ProjectorMismatchError } from '../errors';
import { checkArch, detectFamily, FAMILIES, ModelFamily } from '../family';
import { TextModel, TextModelInfo } from '../llm/text-model';
import { safeCall } from '../util/safe-call';
import { VisionEncoder, VisionEncoderInfo } from '../vision/encoder';
import type { SettledLoad } from './settle-load';

export interface ModelPair {
  text: TextModel;
  vision: VisionEncoder;
  family: ModelFamily;
}

/** Loads both files of `s` and checks the pair; progress as the 'text' then the 'vision' phase. */
export async function loadPair(s: SettledLoad): Promise<ModelPair> {
  const report = (phase: 'text' | 'vision', fraction: number) => {
    if (s.onProgress) safeCall(s.onProgress, { phase, fraction });
  };
  const text = await TextModel.open(s.model, { ...s.text, onProgress: (f) => report('text', f) });
  let vision: VisionEncoder;
  try {
    report('vision', 0);
    vision = await VisionEncoder.open(s.mmproj, { threads: s.threads, device: s.text.device, signal: s.text.signal });
    report('vision', 1);
  } catch (e) {
    text.dispose();
    throw e;
  }
  try {
    checkArch(text.info, s.model);
    const family = s.family !== undefined ? FAMILIES[s.family] : detectFamily(text.info);
    checkPair(text.info, vision.info, family, s);
    return { text, vision, family };
  } catch (e) {
    text.dispose();
    vision.dispose();
    throw e;
  }
}

function checkPair(t: TextModelInfo, v: VisionEncoderInfo, family: ModelFamily, o: { model: string; mmproj: string }): void {
  if (t.embeddingWidth !== v.embeddingWidth) {
    throw new ProjectorMismatchError(
      `${o.mmproj} projects images to ${v.embeddingWidth}-wide embeddings but ${o.model} has width ${t.embeddingWidth}: ` +
        'they are not a pair (use the mmproj converted from the same checkpoint)',
    );
  }
  const s = t.special;
  const missing = (['imStart', 'imEnd', 'imgStart', 'imgEnd', 'imgContext'] as const).filter((k) => s[k] < 0);
  if (missing.length > 0 || (s.addBos && s.bos < 0)) {
    throw new ProjectorMismatchError(
      `${o.model} lacks the special tokens the ${family.label} prompt needs: ${missing.map((k) => family.special[k]).join(', ') || '<s>'}`,
    );
  }
  if (v.tokensPerTile !== family.tokensPerTile) {
    throw new ProjectorMismatchError(`${o.mmproj} gives ${v.tokensPerTile} embeddings per tile; the ${family.label} prompt has ${family.tokensPerTile}`);
  }
}
