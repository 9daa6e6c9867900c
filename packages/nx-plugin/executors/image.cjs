// Nx loads executors with require(); the implementation is an ES module, loaded on first use.
'use strict';
module.exports = async function imageExecutor(options, context) {
  const { default: run } = await import('../dist/executors/image/executor.js');
  return run(options, context);
};
