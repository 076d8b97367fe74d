// Messages between the PDF renderer (render.ts) and its process (render-worker.ts).

/** What pdfjs may decode for one request (PDF_LIMITS; render-bounds.ts enforces them). */
export interface DecodeBounds {
  maxImagePixels: number;
  maxStreamBytes: number;
}

export interface InfoRequest {
  kind: 'info';
  id: number;
  bounds: DecodeBounds;
  /** Identifies the document (content hash), so the worker keeps it open across pages. */
  key: string;
  data?: Uint8Array;
  password?: string;
  /** The page whose size (in points, rotation applied) is wanted, if any. */
  sizeOf?: number;
}

export interface PageRequest {
  kind: 'page';
  id: number;
  bounds: DecodeBounds;
  key: string;
  data?: Uint8Array;
  password?: string;
  /** 1-based. */
  page: number;
  /** Pixels per point (dpi / 72). */
  scale: number;
  /** Output size in pixels. */
  width: number;
  height: number;
}

export type RenderRequest = InfoRequest | PageRequest;

export type RenderReply =
  | { id: number; ok: true; pages: number; size?: { width: number; height: number }; rgba?: Uint8Array }
  | { id: number; ok: false; pages?: number; error: { name: string; message: string; code?: number } };
