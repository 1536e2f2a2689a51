import { printLogTailOnFailure } from './logTail.ts'

// Every test file: a failed test prints the last lines its stacks logged.
printLogTailOnFailure()
