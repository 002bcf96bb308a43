#!/usr/bin/env node
/** The `signaling-actor` executable: wires the process (argv, streams, signals, exit code) to `runCli`. */
import { runCli } from './cli-commands.js';

const controller = new AbortController();
let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  // A second signal means "now": skip the drain or the graceful close.
  if (stopping) process.exit(1);
  stopping = true;
  // serve reads the reason: SIGTERM drains, SIGINT closes at once.
  controller.abort(signal);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
