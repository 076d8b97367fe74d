// @huggingface/hub, loaded on first use (require('minimonkey') stays light). It lives in a file of its
// own that no public declaration imports: the hub's own .d.ts files do not compile with
// skipLibCheck off against @types/node's Blob, and an inferred type here would put deep imports into
// its dist/ (which its `exports` forbid) into our .d.ts. Users of the types never see the hub's.
export const hubLib = (): Promise<typeof import('@huggingface/hub')> => import('@huggingface/hub');
