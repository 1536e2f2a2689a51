// The agent's public entry: what the CLI, the dev stack and other parts use.

export { heartbeatMessage } from '../client/serverClient.ts'
export { type CommitmentParameters, canonicalise, commitmentOf, fingerprintOutput, sha256Hex } from '../protocol/fingerprint.ts'
export { decodeTensorBlob, encodeTensorBlob, type Tensor, TensorBlobError } from '../protocol/tensorBlob.ts'
export { detectHardware, gpuModelId, gpuModels, type Hardware } from './detectHardware.ts'
export { AgentSetupError } from './ensureProvider.ts'
export { InferenceError, InferencePool, type InferencePoolOptions } from './inferencePool.ts'
export { Journal, type JournalEntry, type JournalState, newSalt } from './journal.ts'
export { type BuildMlpParameters, buildMlp, makeInput, mlpWeights, referenceMlp } from './models/buildMlp.ts'
export { createPrng } from './models/prng.ts'
export { type RunAgentParameters, type RunAgentReturnType, runAgent } from './runAgent.ts'
