import { BaseError, ContractFunctionExecutionError } from 'viem'
import { describe, expect, it } from 'vitest'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { serializeError } from './logSerializers.ts'

describe('serializeError', () => {
  it('logs a viem contract error without its ABI, its long strings clipped, its cause and name kept', () => {
    const cause = new BaseError('RPC Request failed.', { details: `Request body: ${'ab'.repeat(20_000)}` })
    const error = new ContractFunctionExecutionError(cause, {
      abi: jobMarketAbi,
      functionName: 'getJob',
      args: [1n],
      contractAddress: '0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9',
    })
    const logged = serializeError(error)
    expect(logged).not.toHaveProperty('abi')
    expect(logged.type).toBe('ContractFunctionExecutionError')
    expect(logged.functionName).toBe('getJob')
    expect(JSON.stringify(logged, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).length).toBeLessThan(30_000)
    expect(JSON.stringify(serializeError(new Error('short'))).length).toBeLessThan(2_000)
    for (const value of Object.values(logged)) if (typeof value === 'string') expect(value.length).toBeLessThanOrEqual(2_100)
    expect(String(logged.message)).toMatch(/more characters\)$/)
  })
})
