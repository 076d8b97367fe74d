// Messages between the local worker pool (pool.ts) and its worker processes (pool-child.ts).
import type { FamilyName } from '../family';
import type { BatchResult, BatchTask, PageJob } from './task';

export type ParentMessage =
  | { type: 'init'; load: { model: string; mmproj: string; threads?: number; contextSize?: number; family?: FamilyName }; task: BatchTask; password?: string }
  | { type: 'page'; job: PageJob };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: { code: string; message: string } }
  | { type: 'result'; result: BatchResult };
