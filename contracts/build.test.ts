import { describe, expect, test } from 'vitest'
import * as generated from './generated/index.ts'
import { deployableContracts, isGeneratedCurrent } from './build.ts'

describe('contracts/build', () => {
  test('contracts/generated is built from the current sources (run `npx tsx contracts/build.ts`)', () => {
    expect(isGeneratedCurrent()).toBe(true)
  })

  test('every deployable contract exports an ABI and creation bytecode', () => {
    for (const name of deployableContracts) {
      const camel = name[0]!.toLowerCase() + name.slice(1)
      const abi = (generated as Record<string, unknown>)[`${camel}Abi`] as readonly { type: string }[]
      const bytecode = (generated as Record<string, unknown>)[`${camel}Bytecode`] as string
      expect(abi.some((item) => item.type === 'constructor'), name).toBe(true)
      expect(bytecode).toMatch(/^0x[0-9a-f]+$/)
      // EIP-170: deployed code must stay under 24 KiB; creation code is a fair upper bound.
      expect((bytecode.length - 2) / 2, name).toBeLessThan(24_576)
    }
  })
})
