import fc from 'fast-check'
import { type Address, decodeFunctionResult, encodeFunctionData, encodeFunctionResult, getAddress, type Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { decodeJobRound, decodeSlot, encodeGetJob, encodeGetSlot, RoundReadError } from './roundReads.ts'

// The hand-written reads of a followed job's poll against viem's encoding and decoding of the same ABI, over random
// values of every field (the dynamic lists too, which move the offsets the hand decoder follows).

const uint = (bits: number) => fc.bigInt({ min: 0n, max: 2n ** BigInt(bits) - 1n })
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString('hex')}` as Hex)
const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(`0x${Buffer.from(b).toString('hex')}`) as Address)
const addresses = fc.array(address, { maxLength: 5 })

const job = fc.record({
  spec: fc.record({
    modelHash: bytes32,
    inputHash: bytes32,
    units: uint(64),
    maxPricePerUnit: uint(256),
    minVramMiB: fc.nat({ max: 2 ** 32 - 1 }),
    gpuModel: fc.nat({ max: 2 ** 32 - 1 }),
    regions: fc.array(bytes32, { maxLength: 4 }),
    redundancy: fc.nat({ max: 255 }),
    verification: fc.nat({ max: 255 }),
    deadline: uint(64),
    outputTolerance: fc.nat({ max: 255 }),
  }),
  requester: address,
  status: fc.nat({ max: 10 }),
  openedAt: uint(64),
  tieBreak: fc.boolean(),
  claimed: fc.boolean(),
  escrow: uint(256),
  commitDeadline: uint(64),
  revealDeadline: uint(64),
  firstClaimAt: uint(64),
  providers: addresses,
  disputed: addresses,
})

const slot = fc.record({
  assigned: fc.boolean(),
  ask: uint(256),
  collateral: uint(256),
  commitment: bytes32,
  revealed: fc.boolean(),
  fingerprint: bytes32,
  outputHash: bytes32,
})

describe('round reads', () => {
  test('getJob decodes as viem decodes it, for the fields a poll reads', () => {
    fc.assert(
      fc.property(job, (value) => {
        const data = encodeFunctionResult({ abi: jobMarketAbi, functionName: 'getJob', result: value as never })
        const viem = decodeFunctionResult({ abi: jobMarketAbi, functionName: 'getJob', data })
        expect(decodeJobRound(data)).toEqual({
          status: viem.status,
          commitDeadline: viem.commitDeadline,
          spec: { modelHash: viem.spec.modelHash, inputHash: viem.spec.inputHash },
          slots: viem.providers.length,
          disputed: viem.disputed,
        })
      }),
      { numRuns: 300 },
    )
  })

  test('getSlot decodes as viem decodes it', () => {
    fc.assert(
      fc.property(slot, (value) => {
        const data = encodeFunctionResult({ abi: jobMarketAbi, functionName: 'getSlot', result: value as never })
        expect(decodeSlot(data)).toEqual(decodeFunctionResult({ abi: jobMarketAbi, functionName: 'getSlot', data }))
      }),
      { numRuns: 300 },
    )
  })

  test('the calls encode as viem encodes them, at the largest job id too', () => {
    fc.assert(
      fc.property(uint(256), address, (jobId, provider) => {
        expect(encodeGetJob(jobId)).toBe(encodeFunctionData({ abi: jobMarketAbi, functionName: 'getJob', args: [jobId] }))
        expect(encodeGetSlot(jobId, provider)).toBe(
          encodeFunctionData({ abi: jobMarketAbi, functionName: 'getSlot', args: [jobId, provider] }),
        )
      }),
    )
  })

  test('return data that is not what the ABI says is refused, naming the call', () => {
    expect(() => decodeJobRound('0x')).toThrow(RoundReadError)
    expect(() => decodeJobRound(undefined)).toThrow(/getJob: return data has no word 0/)
    expect(() => decodeSlot(`0x${'00'.repeat(31)}`)).toThrow(/getSlot: return data is not whole words/)
    // An offset that points past the end.
    expect(() => decodeJobRound(`0x${'ff'.repeat(32)}${'00'.repeat(32 * 12)}`)).toThrow(/no offset or length/)
    expect(() => decodeSlot(`0x${'00'.repeat(32 * 6)}`)).toThrow(/getSlot: return data has no word 6/)
  })
})
