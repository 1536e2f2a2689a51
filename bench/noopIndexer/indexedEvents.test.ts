import { expect, test } from 'vitest'
import { handledEvents } from '../indexer.ts'
import { indexedEvents } from './indexedEvents.ts'

test('the no-op app handles exactly the events indexer/src handles', () => {
  expect([...indexedEvents].sort()).toEqual(handledEvents())
})
