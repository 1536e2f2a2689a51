import { createHash } from 'node:crypto'
import { type Hex, hexToBytes } from 'viem'
import { canonicalise } from './fingerprint.ts'

/**
 * The result fingerprint as a commitment that can be opened one element at a time (PROTOCOL.md, "Results"): the
 * output's float32 values rounded to the job's `outputTolerance` bits (`canonicalise`), packed eight big-endian words
 * to a 32-byte chunk, the chunks the leaves of a sha256 Merkle tree. Two honest outputs a few ulps apart usually have
 * equal fingerprints; when they don't, JobMarket compares single elements, each proven against its fingerprint here,
 * under the job's tolerance (`withinTolerance`), instead of slashing on the first differing bit.
 */

/** float32 words per leaf chunk: one `bytes32`. */
const WORDS_PER_CHUNK = 8

const LEAF = Buffer.from([0])
const NODE = Buffer.from([1])
const ROOT = Buffer.from([2])
const ZERO_NODE = Buffer.alloc(32)

function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256')
  for (const p of parts) hash.update(p)
  return hash.digest()
}

const toHex = (bytes: Uint8Array): Hex => `0x${Buffer.from(bytes).toString('hex')}`

/** Leaf chunks a tree over `length` words has: at least one, the last zero-padded. */
function chunkCountOf(length: number): number {
  return Math.max(1, Math.ceil(length / WORDS_PER_CHUNK))
}

/** Levels between a leaf and the root: ⌈log2 chunks⌉ (0 for one chunk). JobMarket derives the same from `length`. */
export function treeDepthOf(length: number): number {
  let depth = 0
  while (2 ** depth < chunkCountOf(length)) depth++
  return depth
}

/**
 * The largest finite magnitude among canonical words, as a word (sign cleared; 0 when none is finite). For
 * non-negative floats the bit patterns order as the values do. The tolerance's absolute part scales with it.
 */
export function scaleWordOf(words: Uint32Array): number {
  let scale = 0
  for (const w of words) {
    const magnitude = w & 0x7fffffff
    if (magnitude < 0x7f800000 && magnitude > scale) scale = magnitude
  }
  return scale
}

/** A built output tree: what the fingerprint commits to and what openings are cut from. */
export type OutputTree = {
  /** Number of output values. */
  length: number
  /** `scaleWordOf` the canonical words. */
  scale: number
  /** The canonical words (`canonicalise`). */
  words: Uint32Array
  /** `levels[0]` the leaf hashes, the last level the root alone. */
  levels: Buffer[][]
  root: Hex
  /** `sha256(0x02 ‖ uint64 length ‖ uint32 scale ‖ root)`: what providers commit and reveal. */
  fingerprint: Hex
}

function chunkBytes(words: Uint32Array, chunk: number): Buffer {
  const bytes = Buffer.alloc(32)
  for (let j = 0; j < WORDS_PER_CHUNK; j++) {
    const i = chunk * WORDS_PER_CHUNK + j
    if (i < words.length) bytes.writeUInt32BE(words[i], j * 4)
  }
  return bytes
}

/** The fingerprint over a tree's length, scale and root. */
function fingerprintOf(parameters: { length: number; scale: number; root: Hex }): Hex {
  const head = Buffer.alloc(12)
  head.writeBigUInt64BE(BigInt(parameters.length), 0)
  head.writeUInt32BE(parameters.scale, 8)
  return toHex(sha256(ROOT, head, hexToBytes(parameters.root)))
}

/** Builds the tree of `values` rounded to `toleranceBits` significant mantissa bits. */
export function buildOutputTree(values: Float32Array, toleranceBits: number): OutputTree {
  const words = canonicalise(values, toleranceBits)
  const leaves: Buffer[] = []
  for (let c = 0; c < chunkCountOf(words.length); c++) leaves.push(sha256(LEAF, chunkBytes(words, c)))
  const levels = [leaves]
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1]
    const above: Buffer[] = []
    for (let i = 0; i < below.length; i += 2) above.push(sha256(NODE, below[i], below[i + 1] ?? ZERO_NODE))
    levels.push(above)
  }
  const root = toHex(levels[levels.length - 1][0])
  const scale = scaleWordOf(words)
  return { length: words.length, scale, words, levels, root, fingerprint: fingerprintOf({ length: words.length, scale, root }) }
}

/** One element of a committed output with the path proving it: JobMarket's `Opening`. */
export type Opening = {
  length: bigint
  scale: number
  index: bigint
  /** The eight-word chunk holding the element. */
  chunk: Hex
  /** Sibling hashes from the leaf up. */
  proof: Hex[]
}

/** The opening of element `index` of `tree`. */
export function openingOf(tree: OutputTree, index: number): Opening {
  // An empty output opens index 0 of its one zero chunk, as JobMarket allows.
  if (!Number.isInteger(index) || index < 0 || index >= Math.max(tree.length, 1))
    throw new RangeError(`index must be an integer in 0..${Math.max(tree.length, 1) - 1}, got ${index}`)
  let position = Math.floor(index / WORDS_PER_CHUNK)
  const chunk = toHex(chunkBytes(tree.words, position))
  const proof: Hex[] = []
  for (const level of tree.levels.slice(0, -1)) {
    proof.push(toHex(level[position ^ 1] ?? ZERO_NODE))
    position >>= 1
  }
  return { length: BigInt(tree.length), scale: tree.scale, index: BigInt(index), chunk, proof }
}

/** The word an opening opens. */
export function openedWordOf(opening: Opening): number {
  const position = Number(opening.index % BigInt(WORDS_PER_CHUNK))
  return Buffer.from(hexToBytes(opening.chunk)).readUInt32BE(position * 4)
}

/** Whether `opening` proves its element against `fingerprint`, as JobMarket's `openElement` checks it. */
export function verifyOpening(fingerprint: Hex, opening: Opening): boolean {
  const length = Number(opening.length)
  if (opening.index >= opening.length && !(opening.length === 0n && opening.index === 0n)) return false
  if (opening.proof.length !== treeDepthOf(length)) return false
  let node = sha256(LEAF, hexToBytes(opening.chunk))
  let position = opening.index / BigInt(WORDS_PER_CHUNK)
  for (const sibling of opening.proof) {
    const other = hexToBytes(sibling)
    node = position % 2n === 0n ? sha256(NODE, node, other) : sha256(NODE, other, node)
    position /= 2n
  }
  return fingerprintOf({ length, scale: opening.scale, root: toHex(node) }).toLowerCase() === fingerprint.toLowerCase()
}
