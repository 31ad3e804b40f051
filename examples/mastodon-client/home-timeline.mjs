// Fetches a Mastodon home timeline with masto.js and adds tamis's verdicts as FilterResults,
// the shape Mastodon clients already render (warn, blur, hide per context).
//
//   node examples/mastodon-client/home-timeline.mjs https://your.instance YOUR_ACCESS_TOKEN [policy.json]
//
// The model bundle is read from models/minilm-l6-int8 (scripts/setup.sh prepares it). No
// status text leaves this process: classification runs here.
import { readFileSync } from 'node:fs';
import { createRestAPIClient } from 'masto';
import { Tamis } from 'tamis';
import { filterStatuses, statusText } from 'tamis/mastodon';

const [url, accessToken, policyPath = 'crates/tamis-cli/samples/policy.json'] = process.argv.slice(2);
if (!url || !accessToken) {
  console.error('usage: home-timeline.mjs INSTANCE_URL ACCESS_TOKEN [POLICY_JSON]');
  process.exit(2);
}
const bundle = (name) => readFileSync(`models/minilm-l6-int8/${name}`);
const tamis = await Tamis.load({ manifest: bundle('manifest.json'), model: bundle('model.onnx'), tokenizer: bundle('tokenizer.json') });
const classifier = await tamis.classifier(readFileSync(policyPath, 'utf8'));

const masto = createRestAPIClient({ url, accessToken });
const statuses = await masto.v1.timelines.home.list({ limit: 40 });
const filtered = await filterStatuses(classifier, statuses, { context: 'home' });

for (const status of filtered) {
  const actions = (status.filtered ?? []).map((result) => `${result.filter.filterAction}: ${result.filter.title}`);
  console.log(actions.length > 0 ? `[${actions.join(', ')}]` : '[shown]', statusText(status).slice(0, 80).replace(/\n/g, ' '));
}
await tamis.dispose();
