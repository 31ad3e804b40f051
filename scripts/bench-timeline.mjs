// Issue 19's timeline from a loaded model onwards, shared by the Node bench (bench-wasm.mjs
// --timeline) and the browser one (bench-browser.mjs, which serves this file to its page), so
// both time the same phases the same way; and the ms per post of the threads rows, shared with
// compare-wasm-builds.mjs. Runs in Node and in a browser: no Node imports.

/** Examples and keep texts of the category of the user's own that the edit phases add. */
const OWN_EXAMPLES = 32;
/**
 * Posts the edit phases take, after the timeline's: the own category's examples, its keep texts
 * and one more example.
 */
export const EDIT_POSTS = 2 * OWN_EXAMPLES + 1;

/** What the edit columns of the timeline tables measure (both benches print it). */
export const EDITS_NOTE =
  `Edits, after the warm run: a category of the user's own added (the next ${OWN_EXAMPLES} posts as its examples, ` +
  `the ${OWN_EXAMPLES} after them as its keep texts: no prior applies, so its examples are cross-fitted in 8 folds, ` +
  'nine fits), then one more example added to it (one text embedded, the policy fitted again); each from the edit to ' +
  'the verdicts\' readiness (an empty classification, which fits the edited policy).';

/**
 * Times `tamis` (a loaded `Tamis` or `TamisWorker`) on the timeline: `policy` embedded and
 * fitted, the `first` posts classified (cold), then the `next` ones with everything loaded
 * (warm). Then two edits of the policy, each timed to the verdicts' readiness (an empty
 * classification, which fits the edited policy): a category of the user's own added, with the
 * first 32 of `edited` as examples and the next 32 as keep texts (no prior applies, so its
 * examples are cross-fitted in 8 folds: 9 fits), and one more example added to it (the same 9
 * fits, one new text embedded). Returns the instants (from `performance.now()`) after fitting
 * and after the cold run, the warm run's and the edits' durations in ms, and how many of the
 * first posts were filtered.
 */
export async function timeClassification(tamis, policy, first, next, edited) {
  const classifier = await tamis.classifier(policy);
  await classifier.classify([]);
  const fitted = performance.now();
  const verdicts = await classifier.classify(first);
  const classified = performance.now();
  await classifier.classify(next);
  const warm = performance.now() - classified;
  const timeEdit = async (edit) => {
    const start = performance.now();
    await classifier.edit(edit);
    await classifier.classify([]);
    return performance.now() - start;
  };
  const ownCategory = await timeEdit({
    op: 'add_category',
    category: {
      name: 'my own',
      examples: edited.slice(0, OWN_EXAMPLES),
      keep: edited.slice(OWN_EXAMPLES, 2 * OWN_EXAMPLES),
      action: 'warn',
    },
  });
  const oneExample = await timeEdit({ op: 'add_example', category: 'my own', text: edited[2 * OWN_EXAMPLES] });
  return {
    fitted, classified, warm, ownCategory, oneExample,
    filtered: verdicts.filter((verdict) => verdict.action).length,
  };
}

/**
 * Milliseconds per post of `tamis` (a loaded `Tamis` or `TamisWorker`): every post of `texts`
 * 32 per call (`perPost32`), then the first `single` one per call (`perPost1`), after warm-up
 * calls of both sizes. (With one warm-up call of 4 posts, the rows of two threads came out at
 * 1.01x-1.35x one thread at one post per call, e5 and MiniLM, three runs on a fresh machine;
 * 1.53x with these, as in a longer interleaved comparison of the same pages.)
 */
export async function msPerPost(tamis, texts, single) {
  for (const text of texts.slice(0, 8)) await tamis.embed([text]);
  await tamis.embed(texts.slice(0, 32));
  const time = async (calls) => {
    const start = performance.now();
    for (const call of calls) await tamis.embed(call);
    return performance.now() - start;
  };
  const batched = [];
  for (let i = 0; i < texts.length; i += 32) batched.push(texts.slice(i, i + 32));
  const perPost32 = (await time(batched)) / texts.length;
  const perPost1 = (await time(texts.slice(0, single).map((text) => [text]))) / single;
  return { perPost32, perPost1 };
}
