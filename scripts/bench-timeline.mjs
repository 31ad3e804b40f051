// Issue 19's timeline from a loaded model onwards, shared by the Node bench (bench-wasm.mjs
// --timeline) and the browser one (bench-browser.mjs, which serves this file to its page), so
// both time the same phases the same way. Runs in Node and in a browser: no Node imports.

/**
 * Times `tamis` (a loaded `Tamis` or `TamisWorker`) on the timeline: `policy` embedded and
 * fitted, the `first` posts classified (cold), then the `next` ones with everything loaded
 * (warm). Returns the instants (from `performance.now()`) after fitting and after the cold run,
 * the warm run's duration in ms, and how many of the first posts were filtered.
 */
export async function timeClassification(tamis, policy, first, next) {
  const classifier = await tamis.classifier(policy);
  await classifier.classify([]);
  const fitted = performance.now();
  const verdicts = await classifier.classify(first);
  const classified = performance.now();
  await classifier.classify(next);
  const warm = performance.now() - classified;
  return { fitted, classified, warm, filtered: verdicts.filter((verdict) => verdict.action).length };
}
