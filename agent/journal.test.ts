import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { Journal, newSalt } from './journal.ts'

const provider = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as const
const dirs: string[] = []
async function tempDir() {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tessera-journal-'))
  dirs.push(d)
  return d
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

function entryFor(jobId: bigint) {
  const salt = newSalt()
  const fingerprint = `0x${'aa'.repeat(32)}` as const
  const outputHash = `0x${'bb'.repeat(32)}` as const
  return {
    jobId: String(jobId),
    provider,
    commitDeadline: '1000',
    state: 'computed' as const,
    salt,
    fingerprint,
    outputHash,
    commitment: commitmentOf({ jobId, provider, fingerprint, outputHash, salt }),
  }
}

describe('Journal', () => {
  it('makes fresh 32-byte salts', () => {
    const a = newSalt()
    expect(a).toMatch(/^0x[0-9a-f]{64}$/)
    expect(newSalt()).not.toBe(a)
  })

  it('survives a restart between commit and reveal with everything needed to reveal', async () => {
    const dataDir = await tempDir()
    const j1 = await Journal.open({ dataDir })
    const e1 = await j1.put(entryFor(1n))
    await j1.update(1n, { state: 'committed', commitTx: `0x${'01'.repeat(32)}` })
    await j1.put(entryFor(2n))
    await j1.update(2n, { state: 'done', reason: 'expired' })
    await j1.setCursor('cursor-17')
    // No close: a crash leaves the file as the fsyncs left it.
    const j2 = await Journal.open({ dataDir })
    expect(j2.cursor).toBe('cursor-17')
    const resumed = j2.unfinished()
    expect(resumed.map((e) => e.jobId)).toEqual(['1'])
    expect(resumed[0]).toMatchObject({ state: 'committed', salt: e1.salt, fingerprint: e1.fingerprint, outputHash: e1.outputHash })
    // The reveal can be recomputed and checked against the commitment from the journal alone.
    const e = resumed[0]
    expect(
      commitmentOf({ jobId: BigInt(e.jobId), provider: e.provider, fingerprint: e.fingerprint, outputHash: e.outputHash, salt: e.salt }),
    ).toBe(e.commitment)
    expect(j2.get(2n)?.state).toBe('done')
    await j2.update(1n, { state: 'revealed' })
    await j2.close()
    await j1.close()
    const j3 = await Journal.open({ dataDir })
    expect(j3.get('1')?.state).toBe('revealed')
    await j3.close()
  })

  it('loads lines written before the confirmation states and job hashes existed, and resumes the new states', async () => {
    const dataDir = await tempDir()
    const old = { ...entryFor(7n), state: 'committed', commitTx: `0x${'07'.repeat(32)}`, updatedAt: 1 }
    await appendFile(path.join(dataDir, 'journal.jsonl'), `${JSON.stringify({ kind: 'entry', entry: old })}\n`)
    const j1 = await Journal.open({ dataDir })
    expect(j1.get(7n)).toEqual(old)
    expect(j1.get(7n)?.inputHash).toBeUndefined()
    await j1.put({ ...entryFor(8n), state: 'committing', inputHash: `0x${'cc'.repeat(32)}` })
    await j1.put({ ...entryFor(9n), state: 'revealing' })
    await j1.close()
    const j2 = await Journal.open({ dataDir })
    expect(j2.unfinished().map((e) => [e.jobId, e.state])).toEqual([
      ['7', 'committed'],
      ['8', 'committing'],
      ['9', 'revealing'],
    ])
    expect(j2.get(8n)?.inputHash).toBe(`0x${'cc'.repeat(32)}`)
    await j2.close()
  })

  it('writes that arrive together share their fsyncs, and each is on disk when it resolves (a crash after any keeps it)', async () => {
    const dataDir = await tempDir()
    const j1 = await Journal.open({ dataDir, compactAfter: 150 })
    const salts = new Map<string, string>()
    // 400 jobs at once, each put then moved on, interleaved: one write per record would take an fsync each.
    await Promise.all(
      Array.from({ length: 400 }, async (_, i) => {
        const entry = await j1.put(entryFor(BigInt(i + 1)))
        salts.set(entry.jobId, entry.salt)
        await j1.update(entry.jobId, { state: 'committed', commitTx: `0x${'02'.repeat(32)}` })
        // Resolved: already on disk, whatever the other jobs' writes are doing.
        const onDisk = await readFile(j1.file, 'utf8')
        expect(onDisk).toContain(`"salt":"${entry.salt}"`)
      }),
    )
    // No close, as after a crash: every job is there, committed, with its salt.
    const j2 = await Journal.open({ dataDir })
    const resumed = j2.unfinished()
    expect(resumed).toHaveLength(400)
    for (const e of resumed) expect(e).toMatchObject({ state: 'committed', salt: salts.get(e.jobId) })
  })

  it('ignores a torn last line and compacts on open', async () => {
    const dataDir = await tempDir()
    const j1 = await Journal.open({ dataDir })
    await j1.put(entryFor(5n))
    for (let i = 0; i < 10; i++) await j1.setCursor(`c${i}`)
    await j1.close()
    await appendFile(path.join(dataDir, 'journal.jsonl'), '{"kind":"entry","entry":{"jobId":"6"')
    const j2 = await Journal.open({ dataDir })
    expect(j2.get(5n)?.state).toBe('computed')
    expect(j2.get(6n)).toBeUndefined()
    expect(j2.cursor).toBe('c9')
    const lines = (await readFile(path.join(dataDir, 'journal.jsonl'), 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(2)
    await j2.close()
  })

  it('keeps only the latest finished entries', async () => {
    const dataDir = await tempDir()
    const j1 = await Journal.open({ dataDir })
    for (let i = 1n; i <= 5n; i++) {
      await j1.put({ ...entryFor(i), state: 'done' })
      await new Promise((r) => setTimeout(r, 2))
    }
    await j1.put(entryFor(6n))
    await j1.close()
    const j2 = await Journal.open({ dataDir, keepDone: 2 })
    expect(
      j2
        .all()
        .map((e) => e.jobId)
        .sort(),
    ).toEqual(['4', '5', '6'])
    await j2.close()
  })

  it("keeps the rewards' cursor across a restart, a clear of the subscription cursor and compactions", async () => {
    const dataDir = await tempDir()
    const j1 = await Journal.open({ dataDir, compactAfter: 3 })
    expect(j1.rewardsCheckedThrough).toBeUndefined()
    await j1.setCursor('cursor-1')
    for (const epoch of [0n, 3n, 7n, 2n ** 255n]) await j1.setRewardsCheckedThrough(epoch)
    await j1.clearCursor()
    await j1.put(entryFor(1n))
    // No close: a crash leaves the file as the fsyncs left it.
    const j2 = await Journal.open({ dataDir })
    expect(j2.rewardsCheckedThrough).toBe(2n ** 255n)
    expect(j2.cursor).toBeUndefined()
    expect(j2.get(1n)?.state).toBe('computed')
    await j1.close()
    await j2.close()
  })
})

describe('Journal compaction while running', () => {
  it('compacts after compactAfter appends without losing state', async () => {
    const dataDir = await tempDir()
    const j = await Journal.open({ dataDir, compactAfter: 5 })
    await j.put(entryFor(1n))
    for (let i = 0; i < 12; i++) await j.setCursor(`c${i}`)
    await j.update(1n, { state: 'committed' })
    const lines = (await readFile(path.join(dataDir, 'journal.jsonl'), 'utf8')).trim().split('\n')
    expect(lines.length).toBeLessThanOrEqual(6) // 14 records appended, compacted at 5 and 10
    await j.close()
    const again = await Journal.open({ dataDir })
    expect(again.cursor).toBe('c11')
    expect(again.get(1n)?.state).toBe('committed')
    await again.close()
  })
})
