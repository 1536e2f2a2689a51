// A worker thread that loads the inference pool's module, as the server's query thread does, and answers its own
// messages: `agent/inferencePool.test.ts` checks that loading the pool leaves this thread's port to it.
import { parentPort } from 'node:worker_threads'
import '../inferencePool.ts'

parentPort?.on('message', (message: { id: number }) => parentPort?.postMessage({ echo: message.id }))
