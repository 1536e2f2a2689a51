import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, test } from 'vitest'
import { stringifyDeployment } from '../protocol/deployment.ts'
import { fixtureDeployment } from '../test/support/deployment.ts'
import { serverConfigFromEnv } from './serverConfigFromEnv.ts'

const deploymentFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'tessera-config-')), 'deployment.json')
writeFileSync(deploymentFile, stringifyDeployment(fixtureDeployment))
const env = { DATABASE_URL: 'postgres://localhost/x', TESSERA_DEPLOYMENT: deploymentFile }

test('the leader confirms its transactions 12 blocks deep unless TESSERA_LEADER_CONFIRMATIONS says otherwise', () => {
  expect(serverConfigFromEnv(env).confirmations).toBe(12)
  expect(serverConfigFromEnv({ ...env, TESSERA_LEADER_CONFIRMATIONS: '48' }).confirmations).toBe(48)
  expect(() => serverConfigFromEnv({ ...env, TESSERA_LEADER_CONFIRMATIONS: 'deep' })).toThrow(
    'TESSERA_LEADER_CONFIRMATIONS must be a non-negative integer, got "deep"',
  )
})

test('a missing DATABASE_URL or a malformed key is named', () => {
  expect(() => serverConfigFromEnv({ TESSERA_DEPLOYMENT: deploymentFile })).toThrow(/DATABASE_URL is required/)
  expect(() => serverConfigFromEnv({ ...env, TESSERA_SERVER_KEY: '0x1234' })).toThrow(/TESSERA_SERVER_KEY must be/)
})
