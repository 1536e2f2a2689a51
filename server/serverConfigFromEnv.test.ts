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

test('TESSERA_SERVER_DOMAIN is a host with an optional port, kept as agents sign it; unset, the server takes each request’s', () => {
  expect(serverConfigFromEnv(env).domain).toBeUndefined()
  expect(serverConfigFromEnv({ ...env, TESSERA_SERVER_DOMAIN: 'API.Tessera.example' }).domain).toBe('api.tessera.example')
  expect(serverConfigFromEnv({ ...env, TESSERA_SERVER_DOMAIN: '10.0.0.5:4000' }).domain).toBe('10.0.0.5:4000')
  // A scheme's default port is left out of a URL's host, so of what agents sign.
  expect(serverConfigFromEnv({ ...env, TESSERA_SERVER_DOMAIN: 'api.tessera.example:443' }).domain).toBe('api.tessera.example')
  for (const bad of ['https://api.tessera.example', 'api.tessera.example/graphql', 'user@host', 'a b'])
    expect(() => serverConfigFromEnv({ ...env, TESSERA_SERVER_DOMAIN: bad })).toThrow(
      `TESSERA_SERVER_DOMAIN must be a host with an optional :port (no scheme or path), got "${bad}"`,
    )
})

test('the dashboard is served from web/dist unless TESSERA_WEB_DIR names another build or none; its public RPC URL is checked', () => {
  expect(serverConfigFromEnv(env).web).toEqual({ dir: undefined, publicRpcUrl: undefined })
  expect(serverConfigFromEnv({ ...env, TESSERA_WEB_DIR: '/srv/tessera-web' }).web).toEqual({
    dir: '/srv/tessera-web',
    publicRpcUrl: undefined,
  })
  expect(serverConfigFromEnv({ ...env, TESSERA_WEB_DIR: 'none' }).web).toBe(false)
  expect(serverConfigFromEnv({ ...env, TESSERA_PUBLIC_RPC_URL: 'https://rpc.example/' }).web).toEqual({
    dir: undefined,
    publicRpcUrl: 'https://rpc.example/',
  })
  for (const bad of ['rpc.example', 'ws://rpc.example', 'not a url'])
    expect(() => serverConfigFromEnv({ ...env, TESSERA_PUBLIC_RPC_URL: bad })).toThrow(
      `TESSERA_PUBLIC_RPC_URL must be an http(s) URL, got "${bad}"`,
    )
})

test('the blob stores keep 32 MiB of small blobs in memory unless TESSERA_BLOB_MEMORY_BYTES says otherwise (0: none)', () => {
  expect(serverConfigFromEnv(env).blobMemoryBytes).toBe(32 * 1024 * 1024)
  expect(serverConfigFromEnv({ ...env, TESSERA_BLOB_MEMORY_BYTES: '0' }).blobMemoryBytes).toBe(0)
  expect(serverConfigFromEnv({ ...env, TESSERA_BLOB_MEMORY_BYTES: '1048576' }).blobMemoryBytes).toBe(1048576)
  expect(() => serverConfigFromEnv({ ...env, TESSERA_BLOB_MEMORY_BYTES: '-1' })).toThrow(
    'TESSERA_BLOB_MEMORY_BYTES must be a non-negative integer, got "-1"',
  )
})
