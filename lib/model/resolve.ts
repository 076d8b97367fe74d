// Which two files a load names: `hf:owner/name` is the pair `minimonkey pull` left in
// MINIMONKEY_HOME (its mmproj unless one is given); anything else names both files itself.
// The API and the CLI resolve through this one function.
import { InvalidArgumentError } from '../errors';
import { resolvePulledModel } from '../hub/home';

export interface ModelFiles {
  model: string;
  mmproj: string;
}

/** `o` with `model` and `mmproj` as the paths of the pair (an hf: name resolved). */
export function resolveModelFiles<O extends { model: string; mmproj?: string }>(o: O): O & ModelFiles {
  if (typeof o.model === 'string' && o.model.startsWith('hf:')) {
    const pulled = resolvePulledModel(o.model);
    return { ...o, model: pulled.model, mmproj: o.mmproj ?? pulled.mmproj };
  }
  if (typeof o.mmproj !== 'string' || o.mmproj.length === 0) throw new InvalidArgumentError('mmproj (the vision projector GGUF) is required unless model is hf:owner/name');
  return o as O & ModelFiles;
}
