import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { EnsureProviderReturnType } from './ensureProvider.ts'
import { maintenanceLoop } from './maintenanceLoop.ts'

const log = pino({ level: 'silent' })
const unchanged: EnsureProviderReturnType = { registered: 'unchanged', staked: 0n, stake: 10n, minStake: 1n, unpaused: false }

/** Starts the loop with an `ensure` that counts its calls and runs `onCall` with the call's number. */
function startLoop(intervalMs: number, onCall: (call: number, controller: AbortController) => void = () => {}) {
  const controller = new AbortController()
  const counter = { calls: 0 }
  const ensure = async () => {
    onCall(++counter.calls, controller)
    return unchanged
  }
  return { counter, controller, loop: maintenanceLoop({ ensure, intervalMs, log, signal: controller.signal }) }
}

describe('maintenanceLoop', () => {
  it('re-ensures the provider every interval, goes on after a failed round, and stops when aborted', async () => {
    const { counter, loop } = startLoop(5, (call, controller) => {
      if (call === 1) throw new Error('node down')
      if (call === 3) controller.abort()
    })
    await loop
    expect(counter.calls).toBe(3)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(counter.calls).toBe(3)
  })

  it('waits one interval before the first round (setup has just ensured the provider)', async () => {
    const { counter, controller, loop } = startLoop(60_000)
    await new Promise((resolve) => setTimeout(resolve, 20))
    controller.abort()
    await loop
    expect(counter.calls).toBe(0)
  })
})
