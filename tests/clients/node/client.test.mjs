// The real @servicestack/client (pinned in package.json), unchanged, against
// a running evo-voice: credentials sign-in, GetActiveSessions by its DTO,
// bearer tokens, and the automatic refresh after the bearer token expires.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { JsonServiceClient } from '@servicestack/client'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execFileSync } from 'node:child_process'
import { startDemo } from '../server.mjs'

// The DTOs are the TypeScript ones the server generates (/types/typescript),
// compiled with `tsc --strict`: the test uses exactly what a TypeScript
// client would.
let server, Authenticate, GetActiveSessions, typesDir, typescriptSource
before(async () => {
  server = await startDemo(['--access-token-ttl', '2', '--speed', '20'])
  typesDir = mkdtempSync(join(tmpdir(), 'evo-voice-dtos-'))
  typescriptSource = await (await fetch(`${server.baseUrl}/types/typescript`)).text()
  writeFileSync(join(typesDir, 'dtos.ts'), typescriptSource)
  writeFileSync(join(typesDir, 'package.json'), '{"type":"module"}')
  const tsc = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'tsc')
  execFileSync(tsc, ['--strict', '--target', 'es2020', '--module', 'es2020', '--outDir', typesDir, join(typesDir, 'dtos.ts')], { stdio: 'pipe' })
  ;({ Authenticate, GetActiveSessions } = await import(pathToFileURL(join(typesDir, 'dtos.js')).href))
})
after(async () => { await server?.stop() })

test('the generated TypeScript DTOs carry the options header and compiled with tsc --strict', () => {
  assert.match(typescriptSource, /^\/\* Options:\nDate: .*\nVersion: .*\n/)
  assert.match(typescriptSource, /\nBaseUrl: http:\/\/127\.0\.0\.1:\d+\n/)
  assert.equal(new GetActiveSessions().getTypeName(), 'GetActiveSessions')
  assert.equal(new GetActiveSessions().getMethod(), 'GET')
})

test('IncludeTypes selects an operation and what it references', async () => {
  const source = await (await fetch(`${server.baseUrl}/types/typescript?IncludeTypes=GetActiveSessions.*`)).text()
  assert.match(source, /\nIncludeTypes: GetActiveSessions\.\*\n/)
  assert.match(source, /export class SessionInfo extends EntityInfo/)
  assert.doesNotMatch(source, /export class Authenticate\b/)
})

const alice = { userName: 'alice@acme.example', password: 'demo' }

test('authenticates with credentials and reads active sessions by the DTO', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  const auth = await client.post(new Authenticate({ provider: 'credentials', ...alice }))
  assert.equal(auth.userName, 'alice@acme.example')
  assert.ok(auth.bearerToken, 'a bearer token')
  assert.deepEqual(auth.roles, ['User'])
  client.bearerToken = auth.bearerToken
  const response = await client.get(new GetActiveSessions())
  assert.ok(Array.isArray(response.sessions))
})

test('sessions appear with the contract members as simulated calls run', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  const auth = await client.post(new Authenticate({ provider: 'credentials', ...alice }))
  client.bearerToken = auth.bearerToken
  let sessions = []
  for (let i = 0; i < 60 && sessions.length === 0; i++) {
    sessions = (await client.get(new GetActiveSessions())).sessions
    if (sessions.length === 0) await new Promise(r => setTimeout(r, 250))
  }
  assert.ok(sessions.length > 0, 'the demo produces sessions')
  const session = sessions[0]
  for (const key of ['id', 'callState', 'dialState', 'queueState', 'accountName', 'members', 'log', 'customerBreadcrumb']) {
    assert.ok(key in session, `session has ${key}`)
  }
  assert.equal(session.accountName, 'Acme Telecom')
  assert.equal(session.ended, false)
})

test('a request without credentials fails with a 401 ResponseStatus', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  await assert.rejects(client.get(new GetActiveSessions()), error => {
    assert.equal(error.responseStatus.errorCode, 'Unauthorized')
    return true
  })
})

test('a wrong password fails with the ServiceStack message', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  await assert.rejects(
    client.post(new Authenticate({ provider: 'credentials', userName: alice.userName, password: 'wrong' })),
    error => {
      assert.equal(error.responseStatus.message, 'Invalid Username or Password')
      return true
    })
})

test('an expired bearer token is refreshed automatically with the refresh token', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  // A bearer-only client: with its cookies (ss-id, ss-reftok) the server
  // would accept or renew the request itself (see cookies.test.mjs), and the
  // client-side refresh through GetAccessToken would not be exercised.
  client.manageCookies = false
  const auth = await client.post(new Authenticate({ provider: 'credentials', ...alice }))
  client.bearerToken = auth.bearerToken
  client.refreshToken = auth.refreshToken
  await new Promise(r => setTimeout(r, 3100)) // the demo's bearer tokens live 2 s
  const response = await client.get(new GetActiveSessions())
  assert.ok(Array.isArray(response.sessions))
  assert.notEqual(client.bearerToken, auth.bearerToken, 'the client refreshed its bearer token')
})
