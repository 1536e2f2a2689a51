import { randomBytes } from 'node:crypto'
import { type FileHandle, mkdir, open, readFile, rename } from 'node:fs/promises'
import path from 'node:path'
import type { Address, Hex } from 'viem'
import type { JobFailureReason } from '../protocol/jobInputs.ts'

/**
 * Where one assignment stands, as the chain shows it: a state past `computed` holds only while the chain still
 * shows it, and a reorg can send an entry back. `computed`: output uploaded (or a failure to report chosen), salt and
 * commitment chosen; the commit is not on chain (not yet, or a reorg took it). `committing`: the commit is mined, not
 * yet `confirmations` deep.
 * `committed`: the commit is confirmed at that depth. `revealing`: the reveal is mined, not yet deep. `revealed`:
 * the reveal is confirmed at depth. `done`: nothing more to do (settled, expired, reassigned, or given up), the end
 * of the round confirmed at depth. Journals written before `committing` and `revealing` existed load as they are
 * (their `committed` and `revealed` meant mined) and are checked against the chain on resume.
 */
export type JournalState = 'computed' | 'committing' | 'committed' | 'revealing' | 'revealed' | 'done'

export type JournalEntry = {
  /** Decimal job id (JSON has no bigint). */
  jobId: string
  provider: Address
  /** The assignment round's commit deadline (unix s, decimal): tells a new round from a resumed one. */
  commitDeadline: string
  state: JournalState
  salt: Hex
  fingerprint: Hex
  outputHash: Hex
  commitment: Hex
  /**
   * Why the job could not run, when the entry reports a failure instead of a result: then `fingerprint` is the
   * reason's code (protocol's `failureFingerprintOf`) and `outputHash` zero, committed and revealed like a result.
   */
  failure?: JobFailureReason
  /**
   * The job's model and input as the chain gave them when the output was computed. A reorg that drops a job's
   * submission lets another job take its id (perhaps with the same commit deadline): this tells them apart.
   * Absent in entries written before it existed.
   */
  modelHash?: Hex
  inputHash?: Hex
  /**
   * The block (decimal) at which the agent read the assignment as current before computing it: the round ran there,
   * so only a block past it can show the round over for good (a reorg may take the assign back out meanwhile). Absent
   * in entries written before it existed.
   */
  verifiedAt?: string
  commitTx?: Hex
  revealTx?: Hex
  /** Why the entry ended, when it ended without a reveal. */
  reason?: string
  updatedAt: number
}

type Record =
  | { kind: 'entry'; entry: JournalEntry }
  | { kind: 'cursor'; cursor: string }
  /** The last emission epoch whose reward was checked and, when there was one, claimed (decimal). */
  | { kind: 'rewards'; checkedThrough: string }

/** A fresh 32-byte salt for a commitment. */
export function newSalt(): Hex {
  return `0x${randomBytes(32).toString('hex')}`
}

/**
 * The commit–reveal journal: an append-only JSON-lines file under the data dir, fsync'd before any write resolves so
 * an entry is on disk before its commit transaction leaves (writes that arrive together share one fsync). Reopening replays it (last record per job
 * wins); it is compacted at open and every `compactAfter` appends. It also keeps the agent's two cursors: the
 * subscription's and how far the emission rewards were checked.
 */
export class Journal {
  readonly file: string
  private handle: FileHandle | undefined
  private readonly byJob = new Map<string, JournalEntry>()
  private cursorValue: string | undefined
  private rewardsCheckedThroughValue: string | undefined
  private chain: Promise<unknown> = Promise.resolve()
  private closed = false
  private appended = 0
  /** Records waiting for the next write (see `append`). */
  private readonly waiting: { line: string; resolve: () => void; reject: (error: unknown) => void }[] = []

  private constructor(
    file: string,
    private readonly dataDir: string,
    private readonly keepDone: number,
    private readonly compactAfter: number,
  ) {
    this.file = file
  }

  /**
   * Opens (creating) `<dataDir>/<name>` (default `journal.jsonl`). A torn last line from a crash mid-write is
   * ignored.
   */
  static async open(parameters: { dataDir: string; name?: string; keepDone?: number; compactAfter?: number }): Promise<Journal> {
    const { dataDir } = parameters
    await mkdir(dataDir, { recursive: true })
    const file = path.join(dataDir, parameters.name ?? 'journal.jsonl')
    let text = ''
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    const journal = new Journal(file, dataDir, parameters.keepDone ?? 1000, parameters.compactAfter ?? 10_000)
    for (const line of text.split('\n')) {
      if (!line.trim()) continue
      let record: Record
      try {
        record = JSON.parse(line)
      } catch {
        continue
      }
      if (record.kind === 'entry') journal.byJob.set(record.entry.jobId, record.entry)
      else if (record.kind === 'cursor') journal.cursorValue = record.cursor
      else if (record.kind === 'rewards') journal.rewardsCheckedThroughValue = record.checkedThrough
    }
    await journal.compact()
    return journal
  }

  /**
   * Rewrites the journal with only the live state (unfinished entries, the latest `keepDone` finished ones,
   * the cursor): temp file, fsync, rename over the journal, fsync the directory. Runs at open and whenever
   * `compactAfter` records were appended since the last compaction.
   */
  private async compact(): Promise<void> {
    const done = [...this.byJob.values()].filter((e) => e.state === 'done').sort((a, b) => a.updatedAt - b.updatedAt)
    for (const e of done.slice(0, Math.max(0, done.length - this.keepDone))) this.byJob.delete(e.jobId)
    const tmp = `${this.file}.tmp`
    const out = await open(tmp, 'w')
    const lines = [...this.byJob.values()].map((entry) => JSON.stringify({ kind: 'entry', entry } satisfies Record))
    if (this.cursorValue !== undefined) lines.push(JSON.stringify({ kind: 'cursor', cursor: this.cursorValue } satisfies Record))
    if (this.rewardsCheckedThroughValue !== undefined)
      lines.push(JSON.stringify({ kind: 'rewards', checkedThrough: this.rewardsCheckedThroughValue } satisfies Record))
    await out.writeFile(lines.length ? `${lines.join('\n')}\n` : '')
    await out.sync()
    await out.close()
    await rename(tmp, this.file)
    const dir = await open(this.dataDir, 'r')
    await dir.sync().catch(() => {})
    await dir.close()
    await this.handle?.close()
    this.handle = await open(this.file, 'a')
    this.appended = 0
  }

  /**
   * Appends `record` and resolves once it is fsync'd. Group commit: the records that arrive while a write is on its
   * way to disk go out together in the next write and share its fsync, so hundreds of jobs in flight don't queue for
   * one fsync each.
   */
  private append(record: Record): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal is closed'))
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ line: `${JSON.stringify(record)}\n`, resolve, reject })
      if (this.waiting.length === 1) this.flush()
    })
  }

  /** Writes every waiting record in one write and one fsync, after whatever the journal is doing. */
  private flush(): void {
    const next = this.chain.then(async () => {
      const batch = this.waiting.splice(0)
      try {
        const { handle } = this
        if (!handle) throw new Error('journal is closed')
        await handle.write(batch.map((r) => r.line).join(''))
        await handle.sync()
        this.appended += batch.length
        if (this.appended >= this.compactAfter) await this.compact()
        for (const r of batch) r.resolve()
      } catch (error) {
        for (const r of batch) r.reject(error)
      }
    })
    this.chain = next.catch(() => {})
  }

  /** The entry for a job, if any. */
  get(jobId: bigint | string): JournalEntry | undefined {
    return this.byJob.get(String(jobId))
  }

  /** Entries not yet `done`, oldest first. */
  unfinished(): JournalEntry[] {
    return [...this.byJob.values()].filter((e) => e.state !== 'done').sort((a, b) => a.updatedAt - b.updatedAt)
  }

  /** Every entry kept. */
  all(): JournalEntry[] {
    return [...this.byJob.values()]
  }

  /** Writes an entry (whole) and resolves once it is fsync'd. */
  async put(entry: Omit<JournalEntry, 'updatedAt'>): Promise<JournalEntry> {
    const full: JournalEntry = { ...entry, updatedAt: Date.now() }
    this.byJob.set(full.jobId, full)
    await this.append({ kind: 'entry', entry: full })
    return full
  }

  /** Merges `changes` into a job's entry and persists it. */
  async update(jobId: bigint | string, changes: Partial<Omit<JournalEntry, 'jobId' | 'updatedAt'>>): Promise<JournalEntry> {
    const current = this.byJob.get(String(jobId))
    if (!current) throw new Error(`no journal entry for job ${jobId}`)
    return this.put({ ...current, ...changes })
  }

  /** The last subscription cursor processed (replay starts after it). */
  get cursor(): string | undefined {
    return this.cursorValue
  }

  /** Forgets the cursor (the server refused it): the next subscription replays from the start. */
  async clearCursor(): Promise<void> {
    if (this.cursorValue === undefined) return
    this.cursorValue = undefined
    await this.compactNow()
  }

  private compactNow(): Promise<void> {
    const next = this.chain.then(() => this.compact())
    this.chain = next.catch(() => {})
    return next
  }

  /** Persists the subscription cursor. */
  async setCursor(cursor: string): Promise<void> {
    if (cursor === this.cursorValue) return
    this.cursorValue = cursor
    await this.append({ kind: 'cursor', cursor })
  }

  /**
   * The last emission epoch whose reward this provider checked, and claimed when there was one (`claimRewards`):
   * the next scan starts after it. Undefined before the first scan.
   */
  get rewardsCheckedThrough(): bigint | undefined {
    return this.rewardsCheckedThroughValue === undefined ? undefined : BigInt(this.rewardsCheckedThroughValue)
  }

  /** Persists {@link rewardsCheckedThrough}. */
  async setRewardsCheckedThrough(epoch: bigint): Promise<void> {
    const value = epoch.toString()
    if (value === this.rewardsCheckedThroughValue) return
    this.rewardsCheckedThroughValue = value
    await this.append({ kind: 'rewards', checkedThrough: value })
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.chain
    await this.handle?.close()
  }
}
