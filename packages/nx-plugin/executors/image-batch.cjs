// Nx loads executors with require(); the batch implementation is an ES module, loaded on first use.
'use strict';
module.exports = async function imageBatchExecutor(taskGraph, options, overrides, context) {
  const { default: run } = await import('../dist/executors/image/batch.js');
  return run(taskGraph, options, overrides, context);
};
