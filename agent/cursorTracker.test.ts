import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { CursorTracker } from './cursorTracker.ts'

const log = pino({ level: 'silent' })

/** The journal's cursor calls, recorded. */
function fakeJournal(cursor?: string) {
  const journal = {
    cursor,
    persisted: [] as string[],
    cleared: 0,
    async setCursor(c: string) {
      if (c === journal.cursor) return // as the journal does
      journal.cursor = c
      journal.persisted.push(c)
    },
    async clearCursor() {
      journal.cursor = undefined
      journal.cleared++
    },
  }
  return journal
}

describe('CursorTracker', () => {
  it('persists a cursor only once every assignment up to it is settled', () => {
    const journal = fakeJournal()
    const cursors = new CursorTracker(journal, log)
    const settle1 = cursors.add('1')
    const settle2 = cursors.add('2')
    const settle3 = cursors.add('3')
    settle2()
    settle3()
    expect(journal.persisted).toEqual([]) // 1 is still in flight: a crash must replay it
    settle1()
    expect(journal.persisted).toEqual(['3'])
  })

  it('advances over the settled prefix as it grows', () => {
    const journal = fakeJournal()
    const cursors = new CursorTracker(journal, log)
    const [s1, s2, s3, s4] = ['1', '2', '3', '4'].map((c) => cursors.add(c))
    s1()
    expect(journal.persisted).toEqual(['1'])
    s3()
    expect(journal.persisted).toEqual(['1'])
    s2()
    expect(journal.persisted).toEqual(['1', '3'])
    s4()
    expect(journal.persisted).toEqual(['1', '3', '4'])
  })

  it('ignores a second settle of the same assignment', () => {
    const journal = fakeJournal()
    const cursors = new CursorTracker(journal, log)
    const s1 = cursors.add('1')
    const s2 = cursors.add('2')
    s1()
    s1()
    expect(journal.persisted).toEqual(['1'])
    s2()
    expect(journal.persisted).toEqual(['1', '2'])
  })

  it('resumes after the newest assignment received, else after the journal cursor', () => {
    const journal = fakeJournal('5')
    const cursors = new CursorTracker(journal, log)
    expect(cursors.resumeAfter).toBe('5')
    cursors.add('6')
    cursors.add('7')
    expect(cursors.resumeAfter).toBe('7') // received but not settled: still in hand after a reconnect
  })

  it('replays from the start once the server refused the cursor, then follows what arrives', async () => {
    const journal = fakeJournal('from-another-chain')
    const cursors = new CursorTracker(journal, log)
    cursors.add('9')
    cursors.refuse()
    expect(cursors.resumeAfter).toBeUndefined()
    await Promise.resolve()
    expect(journal.cleared).toBe(1)
    journal.cursor = 'stale' // even if the journal still held one, a refused cursor is not used again
    expect(cursors.resumeAfter).toBeUndefined()
    cursors.add('1')
    expect(cursors.resumeAfter).toBe('1')
  })

  it('after a retraction resumes from its cursor, past what came since, until a connection used it; the journal goes back to it', () => {
    const journal = fakeJournal('3')
    const cursors = new CursorTracker(journal, log)
    const settle5 = cursors.add('5')
    cursors.add('6')()
    cursors.retract('4') // 5 is retracted: what replaced it may be anywhere after 4
    const settle7 = cursors.add('7')
    cursors.retract('5') // a later retraction of the same reorganisation: the first one's cursor stands for it
    expect(cursors.resumeAfter).toBe('4')
    expect(journal.persisted).toEqual([]) // 5 still in flight
    settle5() // its work cancelled
    expect(journal.persisted).toEqual(['4']) // back to the retraction, not on to 6
    settle7()
    expect(journal.persisted).toEqual(['4'])
    cursors.add('8')()
    expect(journal.persisted).toEqual(['4', '8'])
    cursors.connected()
    expect(cursors.resumeAfter).toBe('4') // until something comes on the new connection
    cursors.add('6')
    expect(cursors.resumeAfter).toBe('6')
  })
})
