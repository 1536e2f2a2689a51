import { afterEach } from 'vitest'
import { keptLogLines } from './logTail.ts'

// Every test file: a test that failed prints the last lines its stacks logged (tailedTestLog).
afterEach((context) => {
  if (context.task.result?.state !== 'fail') return
  const lines = keptLogLines()
  if (lines.length) console.log(`${context.task.name}: the last ${lines.length} log lines of this file's stacks:\n${lines.join('')}`)
})
