import { type Hex, keccak256, toHex } from 'viem'
import { prng } from '../../economics/prng.ts'
import { firstDisagreementOf } from '../../protocol/agreement.ts'
import { failureFingerprintOf, type JobFailureReason, jobFailureReasons } from '../../protocol/jobInputs.ts'
import { buildOutputTree, type Opening, type OutputTree, openingOf } from '../../protocol/outputTree.ts'

/**
 * Outputs named by labels, for contract tests that need real committed results: `"truth"` is a seeded random output,
 * `"truth~p1"` the same output with every element moved by −4..+4 ulps (seeded by `p1`), as another honest machine
 * would compute it: its fingerprint may differ from `"truth"`'s, but no element is out of tolerance; `"truth#15"` its
 * first 15 values. A label naming a failure reason (`"MODEL_INVALID"`) stands for that failure's code.
 */

/** Values per labelled output: two leaf chunks, so proofs have a sibling. */
const OUTPUT_LENGTH = 16
/** The test job specs' `outputTolerance`. */
const TEST_TOLERANCE_BITS = 16

const seedOf = (text: string) => Number.parseInt(keccak256(toHex(text)).slice(2, 10), 16)

/** The output a label stands for. */
function outputOfLabel(label: string): Float32Array {
  const [named, length] = label.split('#')
  const [base, noise] = named.split('~')
  const rand = prng(seedOf(`output:${base}`))
  const values = Float32Array.from({ length: OUTPUT_LENGTH }, () => (rand.next() - 0.5) * 8).subarray(0, Number(length ?? OUTPUT_LENGTH))
  if (noise === undefined) return values
  const words = new Uint32Array(values.buffer)
  const jitter = prng(seedOf(`ulps:${noise}`))
  for (let i = 0; i < words.length; i++) words[i] += jitter.int(-4, 4)
  return values
}

const isFailure = (label: string): label is JobFailureReason => (jobFailureReasons as readonly string[]).includes(label)
const trees = new Map<string, OutputTree>()
/** The committed tree of a label's output. */
export function treeOfLabel(label: string): OutputTree {
  let tree = trees.get(label)
  if (!tree) {
    tree = buildOutputTree(outputOfLabel(label), TEST_TOLERANCE_BITS)
    trees.set(label, tree)
  }
  return tree
}

/** A label's fingerprint: its failure's code, or its output tree's commitment. */
export function fingerprintOfLabel(label: string): Hex {
  return isFailure(label) ? failureFingerprintOf(label) : treeOfLabel(label).fingerprint
}

/**
 * The openings proving two labelled results disagree (`JobMarket.proveDisagreement`), or undefined when they agree
 * under the tolerance or either is a failure (nothing to prove).
 */
export function disagreementOf(labelA: string, labelB: string): { a: Opening; b: Opening } | undefined {
  if (isFailure(labelA) || isFailure(labelB)) return undefined
  const [a, b] = [treeOfLabel(labelA), treeOfLabel(labelB)]
  const where = firstDisagreementOf({ a, b, toleranceBits: TEST_TOLERANCE_BITS })
  if (where === null) return undefined
  const index = where === 'length' ? 0 : where
  return { a: openingOf(a, index), b: openingOf(b, index) }
}
