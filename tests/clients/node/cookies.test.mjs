// The real @servicestack/client in cookie mode and with auto-batched
// requests, against a running evo-voice whose access tokens live 2 s.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { JsonServiceClient } from '@servicestack/client'
import { startDemo } from '../server.mjs'

// Request DTOs as /types/typescript declares them (the TypeScript test
// compiles the generated file; here the shape is all the client needs).
class Authenticate {
  constructor(init) { Object.assign(this, init) }
  getTypeName() { return 'Authenticate' }
  getMethod() { return 'POST' }
  createResponse() { return {} }
}
class GetActiveSessions {
  constructor(init) { Object.assign(this, init) }
  getTypeName() { return 'GetActiveSessions' }
  getMethod() { return 'GET' }
  createResponse() { return {} }
}

const alice = { userName: 'alice@acme.example', password: 'demo' }
let server
before(async () => { server = await startDemo(['--access-token-ttl', '2']) })
after(async () => { await server?.stop() })

test('cookie mode: calls keep succeeding after the ss-tok access token expired, with no user action', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  await client.post(new Authenticate({ provider: 'credentials', ...alice }))
  // X-Cookies named ss-reftok, so the client switched to token cookies
  // (servicestack-client src/index.ts: case "x-cookies").
  assert.equal(client.useTokenCookie, true)
  assert.ok(client.cookies['ss-tok']?.value, 'an ss-tok cookie')
  assert.ok(client.cookies['ss-reftok']?.value, 'an ss-reftok cookie')
  assert.ok(!client.bearerToken, 'only cookies carry the credentials')
  const first = await client.get(new GetActiveSessions())
  assert.ok(Array.isArray(first.sessions))
  const issued = client.cookies['ss-tok'].value
  await new Promise(r => setTimeout(r, 3100)) // the access token expires after 2 s
  // The client still sends the expired ss-tok (it cannot read the cookie's
  // Expires); the still valid ss-id session is used instead of a 401.
  const withSession = await client.get(new GetActiveSessions())
  assert.ok(Array.isArray(withSession.sessions))
  // Without the session cookie, the server renews ss-tok from ss-reftok.
  delete client.cookies['ss-id']
  delete client.cookies['ss-pid']
  for (let i = 0; i < 2; i++) {
    const response = await client.get(new GetActiveSessions())
    assert.ok(Array.isArray(response.sessions))
  }
  assert.notEqual(client.cookies['ss-tok'].value, issued, 'the server renewed ss-tok from ss-reftok')
})

test('sendAll posts both GetActiveSessions requests to the auto-batched route in one call', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  const auth = await client.post(new Authenticate({ provider: 'credentials', ...alice }))
  client.bearerToken = auth.bearerToken
  const urls = []
  client.urlFilter = url => urls.push(url)
  const responses = await client.sendAll([new GetActiveSessions(), new GetActiveSessions()])
  assert.equal(responses.length, 2)
  for (const response of responses) assert.ok(Array.isArray(response.sessions))
  assert.equal(urls.length, 1)
  assert.match(urls[0], /GetActiveSessions\[\]$/)
})
