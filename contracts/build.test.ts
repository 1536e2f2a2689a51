import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { buildContracts, ContractsBuildError, deployableContracts, isGeneratedCurrent } from './build.ts'
import * as generated from './generated/index.ts'

describe('contracts/build', () => {
  test('contracts/generated is built from the current sources (run `npx tsx contracts/build.ts`)', () => {
    expect(isGeneratedCurrent()).toBe(true)
  })

  test('every deployable contract exports an ABI and creation bytecode', () => {
    for (const name of deployableContracts) {
      const camel = name[0].toLowerCase() + name.slice(1)
      const abi = (generated as Record<string, unknown>)[`${camel}Abi`] as readonly { type: string }[]
      const bytecode = (generated as Record<string, unknown>)[`${camel}Bytecode`] as string
      expect(
        abi.some((item) => item.type === 'constructor'),
        name,
      ).toBe(true)
      expect(bytecode).toMatch(/^0x[0-9a-f]+$/)
      // EIP-170: the code a deployment leaves on chain must stay within 24 KiB.
      const deployedSize = (generated as Record<string, unknown>)[`${camel}DeployedSize`] as number
      expect(deployedSize, name).toBeGreaterThan(0)
      expect(deployedSize, name).toBeLessThanOrEqual(24_576)
    }
  })

  test('compiles a sources folder (imports from node_modules), then skips while nothing changed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-build-'))
    const srcDir = path.join(dir, 'src')
    const outDir = path.join(dir, 'generated')
    mkdirSync(path.join(srcDir, 'lib'), { recursive: true })
    writeFileSync(path.join(srcDir, 'lib', 'Base.sol'), 'pragma solidity ^0.8.24;\nabstract contract Base { uint256 internal x; }\n')
    writeFileSync(
      path.join(srcDir, 'JobMarket.sol'),
      'pragma solidity ^0.8.24;\n' +
        'import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";\nimport {Base} from "./lib/Base.sol";\n' +
        'contract JobMarket is Base { constructor() { x = Math.max(1, 2); } }\n',
    )
    const first = await buildContracts({ srcDir, outDir, quiet: true })
    expect(first).toMatchObject({ skipped: false, contracts: ['JobMarket'] })
    const module = readFileSync(path.join(outDir, 'JobMarket.ts'), 'utf8')
    expect(module).toContain('export const jobMarketAbi = [')
    expect(module).toMatch(/export const jobMarketBytecode = '0x[0-9a-f]+' as const/)
    expect(module).toMatch(/export const jobMarketDeployedSize = [1-9][0-9]*\n/)
    expect(readFileSync(path.join(outDir, 'index.ts'), 'utf8')).toContain(
      "export { jobMarketAbi, jobMarketBytecode, jobMarketDeployedSize } from './JobMarket.ts'",
    )
    expect(readFileSync(path.join(outDir, '.sources-hash'), 'utf8').trim()).toBe(first.hash)
    expect(await buildContracts({ srcDir, outDir, quiet: true })).toMatchObject({ skipped: true, hash: first.hash })
  })

  test("fails loudly with solc's messages", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-build-'))
    const srcDir = path.join(dir, 'src')
    mkdirSync(srcDir)
    writeFileSync(path.join(srcDir, 'Broken.sol'), 'pragma solidity ^0.8.24;\ncontract Broken { function f() { } \n')
    const error = await buildContracts({ srcDir, outDir: path.join(dir, 'generated'), quiet: true }).catch((e) => e)
    expect(error).toBeInstanceOf(ContractsBuildError)
    expect(error.details).toContain('ParserError')
  })
})
