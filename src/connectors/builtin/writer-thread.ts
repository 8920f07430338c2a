/** The writer thread's entry (writer.ts): one Directory connection, batches written as they arrive. */
import { parentPort, workerData } from 'node:worker_threads';
import { Directory } from '../../directory/index.js';
import { writeBatch } from './write.js';
import type { WriterInit, WriterReply, WriterRequest } from './writer.js';

const init = workerData as WriterInit;
const directory = new Directory(init.path, { cacheKb: init.cacheKb });

// writeBatch answers every failure of the directory itself; anything else ends the thread, which writer.ts
// turns into a failed batch and a new thread for the next.
parentPort!.on('message', ({ id, changes }: WriterRequest) => {
  parentPort!.postMessage({ id, outcome: writeBatch(directory, changes) } satisfies WriterReply);
});
