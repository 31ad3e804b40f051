// A user's Node script, as the README's quick start shows it: the model by name from the
// folder public/models/ (a relative path), the posts of public/inputs.json classified under
// public/policy.json (the test copies the CLI's sample policy there), its two lists fused
// (classical and content-aware); prints what came back as JSON, and whether the model's priors
// (which the package ships beside its module) were loaded.
import { readFileSync } from 'node:fs';
import { Tamis, fuseLists } from 'tamis';

const inputs = JSON.parse(readFileSync('public/inputs.json', 'utf8'));
const policy = readFileSync('public/policy.json', 'utf8');

const tamis = await Tamis.load({ model: 'minilm-l6-int8', baseUrl: 'public/models' });
const classifier = await tamis.classifier(policy);
const [spam, calm] = await classifier.classify([inputs.spam, inputs.calm]);
const fused = await fuseLists({ method: 'rrf', lists: inputs.lists });
const texts = { d1: 'Tide tables for the harbour', d2: 'Stargazing with a telescope', d3: 'Bread recipes', d4: 'Planets visible tonight' };
const withTexts = inputs.lists.map((list) => ({ ...list, items: list.items.map((item) => ({ ...item, text: texts[item.id] })) }));
const byContent = await tamis.fuse({ lists: withTexts, query: 'astronomy and the night sky' });
await tamis.dispose();
console.log(JSON.stringify({ hasPriors: tamis.hasPriors, spam, calm, fused, byContent }));
