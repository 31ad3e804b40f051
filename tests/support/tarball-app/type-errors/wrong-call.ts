// Calls the package's types must refuse: tsc reports each line marked below.
import { Tamis } from 'tamis';

const tamis = await Tamis.load({ model: 'minilm-l6-int8' });
const classifier = await tamis.classifier({ version: 1, mode: 'multilabel', categories: [] });
await classifier.classify(42); // error: a number is not string[]
await tamis.classifier({ version: 2, mode: 'multilabel', categories: [] }); // error: version 1 only
