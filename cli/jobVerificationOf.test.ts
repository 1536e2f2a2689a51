import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { Verification } from '../protocol/enums.ts'
import { ConfigError } from './config.ts'
import { jobVerificationOf } from './jobVerificationOf.ts'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

describe('jobVerificationOf', () => {
  test('redundant by default, k = 2 unless --redundancy says otherwise', () => {
    expect(jobVerificationOf({})).toEqual({ verification: Verification.Redundant, redundancy: 2, name: 'REDUNDANT' })
    expect(jobVerificationOf({ verification: 'redundant', redundancy: '3' })).toMatchObject({ redundancy: 3 })
    expect(jobVerificationOf({ verification: 'Redundant', redundancy: '16' })).toMatchObject({ redundancy: 16 })
  })

  test('optimistic implies k = 1; --redundancy 1 is accepted, anything else is an error naming the flag', () => {
    const optimistic = { verification: Verification.Optimistic, redundancy: 1, name: 'OPTIMISTIC' }
    expect(jobVerificationOf({ verification: 'optimistic' })).toEqual(optimistic)
    expect(jobVerificationOf({ verification: 'OPTIMISTIC', redundancy: '1' })).toEqual(optimistic)
    for (const redundancy of ['2', '3', '0']) {
      const call = () => jobVerificationOf({ verification: 'optimistic', redundancy })
      expect(call).toThrow(ConfigError)
      expect(call).toThrow(
        `--redundancy must be 1 with --verification optimistic (the job runs once and is spot-checked), got ${redundancy}`,
      )
    }
  })

  test('an unknown mode, a k that is not a whole number or out of the contract’s range are refused', () => {
    expect(() => jobVerificationOf({ verification: 'majority' })).toThrow('--verification must be redundant or optimistic, got "majority"')
    expect(() => jobVerificationOf({ redundancy: 'two' })).toThrow('--redundancy must be a whole number of providers, got "two"')
    expect(() => jobVerificationOf({ verification: 'optimistic', redundancy: '1.5' })).toThrow('whole number')
    expect(() => jobVerificationOf({ redundancy: '1' })).toThrow('--redundancy must be 2 to 16 with --verification redundant, got 1')
    expect(() => jobVerificationOf({ redundancy: '17' })).toThrow('got 17')
  })
})

describe('tessera job submit', () => {
  test('refuses --redundancy 2 with optimistic before it reads, uploads or approves anything', async () => {
    // Neither file exists and nothing listens at the server or the RPC: only a check made first can answer.
    const run = promisify(execFile)(
      path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
      [
        path.join(repoRoot, 'cli', 'tessera.ts'),
        'job',
        'submit',
        '--model',
        '/nonexistent/model.onnx',
        '--input',
        '/nonexistent/input.json',
        '--verification',
        'optimistic',
        '--redundancy',
        '2',
        '--server',
        'http://127.0.0.1:9',
        '--rpc',
        'http://127.0.0.1:9',
      ],
      { cwd: repoRoot },
    )
    const failure = await run.then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    )
    expect(failure?.code).toBe(1)
    expect(failure?.stderr).toContain('tessera: --redundancy must be 1 with --verification optimistic')
    expect(failure?.stderr).toContain('Leave --redundancy out')
    expect(failure?.stderr).not.toMatch(/ENOENT|fetch failed|ECONNREFUSED/)
  })
})
