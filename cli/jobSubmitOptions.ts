import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import type { Hex } from 'viem'
import { devKeys, devRequesterIndex } from '../devnet/devAccounts.ts'
import { decodeTensorBlob, type Tensor } from '../protocol/tensorBlob.ts'
import { ConfigError, requiredAccountKey, resolveSettings } from './config.ts'
import { type JobVerification, jobVerificationOf } from './jobVerificationOf.ts'

/** The account settings of `tessera job` and `tessera gateway`: dev account 7 unless a key is given. */
export const requesterSettings = [
  'server',
  'rpc',
  {
    name: 'keyFile',
    description: `file holding the requester's private key (or TESSERA_PRIVATE_KEY; default: dev account ${devRequesterIndex}, funded by \`tessera dev\`)`,
  },
  { name: 'privateKey', default: devKeys[devRequesterIndex] },
] as const

/** The settings of `tessera job submit`. */
export const submitSettings = [
  ...requesterSettings,
  { name: 'model', description: 'ONNX model file (required)' },
  { name: 'input', description: 'input tensor blob (required; JSON: dims, dtype float32, base64 data); its rows are the units' },
  'maxPrice',
  'verification',
  'redundancy',
  'tolerance',
  'direct',
] as const

/** What `job submit` goes on with once every option passed its checks. */
export type SubmitOptions = JobVerification & {
  /** What the rest of `job submit` reads: the server, the RPC and whether to submit directly. */
  flags: { server: string; rpc: string; direct: boolean }
  privateKey: Hex
  model: Uint8Array
  input: Uint8Array
  tensor: Tensor
  maxPricePerUnit: bigint
  outputTolerance: number
}

/** A file an option names, or a ConfigError naming the option and why it can't be read. */
async function readOptionFile(file: string, flag: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : (code ?? (error as Error).message)
    throw new ConfigError(`${flag} ${file}: ${why}`)
  }
}

/**
 * Every option of `tessera job submit`, read and checked before anything is uploaded, signed or approved: the
 * verification and redundancy, the price and tolerance (by the settings table), the key, both files (the model
 * non-empty, the input a tensor blob with at least one row). Each problem is a {@link ConfigError} naming the option.
 */
export async function submitOptionsOf(command: Command): Promise<SubmitOptions> {
  const config = resolveSettings(command, submitSettings)
  const verification = jobVerificationOf({ verification: config.verification, redundancy: config.redundancy })
  if (!config.model) throw new ConfigError('--model <file> is required: the ONNX model to run')
  if (!config.input) throw new ConfigError('--input <file> is required: the input tensor blob (JSON)')
  const privateKey = requiredAccountKey(config, 'job submit')
  const model = await readOptionFile(config.model, '--model')
  if (model.length === 0) throw new ConfigError(`--model ${config.model} is empty`)
  const input = await readOptionFile(config.input, '--input')
  let tensor: Tensor
  try {
    tensor = decodeTensorBlob(input)
  } catch (error) {
    throw new ConfigError(`--input ${config.input} is not a tensor blob: ${(error as Error).message}`, {
      metaMessages: ['A tensor blob is JSON: {"dims":[rows,cols],"dtype":"float32","data":"<base64 of little-endian float32>"}.'],
    })
  }
  if (!(tensor.dims[0] >= 1)) throw new ConfigError(`--input ${config.input} holds no rows: its rows are the job's units, at least one`)
  return {
    ...verification,
    flags: { server: config.server, rpc: config.rpc, direct: config.direct },
    privateKey,
    model,
    input,
    tensor,
    maxPricePerUnit: config.maxPrice,
    outputTolerance: config.tolerance,
  }
}
