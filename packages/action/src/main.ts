// Entry of the Action's main step (action.yml runs.main, bundled into dist/main.js).
import { runMain } from './main-step.js';

await runMain();
