/** The writer thread's entry (writer.ts): one Directory connection, batches written as they arrive. */
import { parentPort, workerData } from 'node:worker_threads';
import { Directory } from '../../directory/index.js';
import { writeBatch } from './write.js';
import type { WriterInit, WriterReply, WriterRequest } from './writer.js';

const init = workerData as WriterInit;
const directory = new Directory(init.path, { cacheKb: init.cacheKb });

parentPort!.on('message', ({ id, changes }: WriterRequest) => {
  let reply: WriterReply;
  try {
    reply = { id, outcome: writeBatch(directory, changes) };
  } catch (err) {
    reply = { id, failure: `writing to ${init.path} failed: ${(err as Error).message}` };
  }
  parentPort!.postMessage(reply);
});
