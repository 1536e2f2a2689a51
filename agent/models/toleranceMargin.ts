import { TOLERANCE_SLACK_BITS } from '../../protocol/agreement.ts'
import { type OutputTree, scaleWordOf } from '../../protocol/outputTree.ts'

type Committed = Pick<OutputTree, 'length' | 'scale' | 'words'>

const valuesOf = (words: Uint32Array) => new Float32Array(words.buffer, words.byteOffset, words.length)
const valueOfWord = (word: number) => new Float32Array(new Uint32Array([word]).buffer)[0]

/**
 * How much of JobMarket's tolerance two committed outputs use: the largest, over elements, of
 * `|a − b| / (2^-(t − TOLERANCE_SLACK_BITS) × (min(scaleA, scaleB) + max(|a|, |b|)))` on their canonical words, the
 * ratio `withinTolerance` tests against 1. So 0 when every word is equal, at most 1 where `firstDisagreementOf` finds
 * agreement (0.06: the worst element sits 16 times inside the bound), and Infinity when the lengths differ or a
 * non-finite word differs. Measured in float64, which keeps the ratio to about 1e-16: a margin of exactly 1 may round
 * either way, so verdicts come from `firstDisagreementOf`, and this says how close to one they were.
 */
export function toleranceMargin(parameters: { a: Committed; b: Committed; toleranceBits: number }): number {
  const { a, b, toleranceBits } = parameters
  if (a.length !== b.length) return Number.POSITIVE_INFINITY
  const [va, vb] = [valuesOf(a.words), valuesOf(b.words)]
  const scale = Math.min(Math.abs(valueOfWord(a.scale)), Math.abs(valueOfWord(b.scale)))
  const width = 2 ** -(toleranceBits - TOLERANCE_SLACK_BITS)
  let margin = 0
  for (let i = 0; i < a.length; i++) {
    if (a.words[i] === b.words[i]) continue
    const [x, y] = [va[i], vb[i]]
    // Words differ yet values are equal (±0, uncanonicalised) or both NaN: equal under the rule. Any other non-finite
    // pair disagrees outright.
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue
    if (!Number.isFinite(x) || !Number.isFinite(y)) return Number.POSITIVE_INFINITY
    margin = Math.max(margin, Math.abs(x - y) / (width * (scale + Math.max(Math.abs(x), Math.abs(y)))))
  }
  return margin
}

/**
 * An output's raw float32 words as if committed without rounding (its scale from the raw words too): `toleranceMargin`
 * of two of these measures the kernels' own difference against the bound, which the rounding to `toleranceBits`
 * otherwise hides under a step.
 */
export function unroundedOutput(values: Float32Array): Committed {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length)
  return { length: values.length, scale: scaleWordOf(words), words }
}
