// Entry of the Action's post step (action.yml runs.post, bundled into dist/post.js).
import { runPost } from './post-step.js';

await runPost();
