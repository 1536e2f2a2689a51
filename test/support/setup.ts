import { afterEach } from 'vitest'
import { keptLogLines } from './logTail.ts'

// Every test file: a test that failed prints the last lines its stacks logged (tailedTestLog).
afterEach((context) => {
  // With TESSERA_TEST_LOG the lines were printed as they came.
  if (context.task.result?.state !== 'fail' || process.env.TESSERA_TEST_LOG) return
  const lines = keptLogLines()
  if (lines.length) console.log(`${context.task.name}: the last ${lines.length} log lines of this file's stacks:\n${lines.join('')}`)
})
