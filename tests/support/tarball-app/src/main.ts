// A user's page, as the README's quick start shows it: tamis on the main thread and in a
// module worker, the model by name from public/models/. The test reads #results when #status
// says "done".
import { Tamis, fuseLists, type LoadOptions, type RankedList, type Verdict } from 'tamis';
import { TamisWorker } from 'tamis/client';

interface Inputs {
  spam: string;
  calm: string;
  lists: RankedList[];
}

const model: LoadOptions = { model: 'minilm-l6-int8', baseUrl: '/models/' };
const status = document.querySelector<HTMLElement>('#status')!;
const results = document.querySelector<HTMLElement>('#results')!;

async function run(): Promise<Record<string, unknown>> {
  const inputs = (await (await fetch('/inputs.json')).json()) as Inputs;
  const policy = await (await fetch('/policy.json')).text();
  const texts = [inputs.spam, inputs.calm];

  // The README's progress handler, as written there: it must type-check against LoadProgress.
  const onPage = await Tamis.load({
    ...model,
    onProgress: (event) => { if (event.status === 'progress') console.log(event.file, event.progress); },
  });
  const mainVerdicts: Verdict[] = await (await onPage.classifier(policy)).classify(texts);

  const worker = new Worker(new URL('tamis/worker', import.meta.url), { type: 'module' });
  const inWorker = await TamisWorker.load(worker, model);
  const workerVerdicts = await (await inWorker.classifier(policy)).classify(texts);
  const workerPriors = inWorker.hasPriors;
  await inWorker.dispose();
  worker.terminate();

  const fused = await fuseLists({ method: 'rrf', lists: inputs.lists });
  return { main: mainVerdicts, worker: workerVerdicts, fused, priors: { main: onPage.hasPriors, worker: workerPriors } };
}

run().then(
  (output) => {
    results.textContent = JSON.stringify(output);
    status.textContent = 'done';
  },
  (error: unknown) => {
    status.textContent = `failed: ${String(error)}`;
  },
);
