// Issue 11: "a connection kept for 3 minutes with heartbeats never
// reconnects", with the real ServerEventsClient of @servicestack/client
// (pinned) and the server's default heartbeat interval (10 s; idle timeout
// 3 intervals). ServiceStack's ServerEventsFeature answers each
// POST /event-heartbeat with `cmd.onHeartbeat` on the stream, and its C#
// client refreshes its liveness only on that message; this file holds
// evo-voice to the same. It runs on its own server so that the other Server
// Events tests can use a short interval.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { ServerEventsClient } from '@servicestack/client'
import { EventSource } from 'eventsource'
import { startDemo } from '../server.mjs'

const KEPT_MS = 3 * 60 * 1000
const DEFAULT_HEARTBEAT_MS = 10_000

globalThis.EventSource = EventSource
delete process.env.EVO_SSE_HEARTBEAT_MS
let server
// The client posts heartbeats with the global fetch and no credentials of
// its own (a browser sends its cookies); the server requires the
// subscription's own principal, so Node adds the bearer token.
let token
const realFetch = globalThis.fetch
globalThis.fetch = (input, init) => {
  if (input instanceof Request && /^\/event-(heartbeat|unregister)$/.test(new URL(input.url).pathname)) {
    const headers = new Headers(input.headers)
    headers.set('Authorization', `Bearer ${token}`)
    return realFetch(new Request(input, { headers }), init)
  }
  return realFetch(input, init)
}

before(async () => { server = await startDemo(['--speed', '0.1', '--concurrent-calls', '1']) })
after(async () => { await server?.stop() })

test('a connection kept for 3 minutes with heartbeats never reconnects', { timeout: KEPT_MS + 60_000 }, async () => {
  const signIn = await realFetch(`${server.baseUrl}/auth/credentials`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ provider: 'credentials', userName: 'alice@acme.example', password: 'demo' }),
  })
  assert.equal(signIn.status, 200)
  token = (await signIn.json()).bearerToken
  const counts = { connect: 0, reconnect: 0, heartbeat: 0, error: 0 }
  let connected
  const ready = new Promise(resolve => { connected = resolve })
  const client = new ServerEventsClient(server.baseUrl, ['home'], {
    handlers: {
      onConnect: info => { counts.connect++; connected(info) },
      onHeartbeat: () => { counts.heartbeat++ },
    },
    onReconnect: () => { counts.reconnect++ },
    onException: () => { counts.error++ },
  })
  client.EventSource = class extends EventSource {
    constructor(url, init) {
      super(url, {
        ...init,
        fetch: (input, options) => realFetch(input, {
          ...options, headers: { ...options.headers, Authorization: `Bearer ${token}` },
        }),
      })
    }
  }
  client.serviceClient.bearerToken = token
  client.start()
  const info = await ready
  assert.equal(Number(info.heartbeatIntervalMs), DEFAULT_HEARTBEAT_MS, 'the default heartbeat interval')
  await new Promise(resolve => setTimeout(resolve, KEPT_MS))
  const expected = Math.floor(KEPT_MS / DEFAULT_HEARTBEAT_MS)
  assert.ok(counts.heartbeat >= expected - 1, `cmd.onHeartbeat answered each heartbeat: ${counts.heartbeat} of ${expected}`)
  assert.equal(counts.reconnect, 0, 'never reconnected')
  assert.equal(counts.connect, 1, 'connected once')
  await client.stop()
})
