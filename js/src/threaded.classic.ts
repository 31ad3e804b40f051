// threaded.ts for the classic-script bundles (scripts/build-js.mjs): no threaded module there.
import type { ThreadsReason } from './types.js';

/** @internal */
export const threadedModule: ThreadsReason = 'classic_script';
