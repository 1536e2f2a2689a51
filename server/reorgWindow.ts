import { endOfBlock, isAfter } from './db/assignments.ts'
import type { FeedPosition } from './db/feedCursors.ts'

/**
 * How many blocks below its position the change feed, and each `jobAssignments` subscription, keeps watching for what
 * a chain reorganisation changed: assignments it removed (retracted) and assignments it put at positions already
 * passed (delivered late). Ponder rolls back and re-indexes reorganised blocks down to its finality depth (30 blocks
 * on a chain it doesn't know, 65 on Ethereum), so 128 covers those; a deeper reorganisation goes unnoticed here.
 */
export const reorgWindowBlocks = 128

/**
 * Where the window of `windowBlocks` blocks below `position` starts, exclusive (the end of the block below it):
 * positions after it are in the window. Undefined when the window reaches back to the chain's start.
 */
export function windowStart(position: FeedPosition, windowBlocks: number): FeedPosition | undefined {
  const below = position.blockNumber - BigInt(windowBlocks)
  return below >= 0n ? endOfBlock(below) : undefined
}

/**
 * Where a subscriber resumes to see what replaced an assignment at `position` that a reorganisation removed (a
 * retraction's cursor): the start of the window below it. The replacement may be anywhere from the reorganisation's
 * first block on, which can be well before the retracted assignment's own (the same transaction mined again
 * earlier, say); resuming there replays up to a window's worth of the provider's assignments, which its agent knows.
 */
export function retractionResumePosition(position: FeedPosition): FeedPosition {
  return windowStart(position, reorgWindowBlocks) ?? endOfBlock(0n)
}

/** Is `position` in the window that starts at `start` (a `windowStart`)? */
export function inWindow(position: FeedPosition, start: FeedPosition | undefined): boolean {
  return !start || isAfter(position, start)
}
