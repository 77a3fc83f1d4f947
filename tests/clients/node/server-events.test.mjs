// Server Events with the real ServerEventsClient of @servicestack/client
// (pinned), unchanged, against `evo-voice demo`. Node 20 has no EventSource:
// the `eventsource` npm polyfill (pinned) stands in, as ServiceStack's docs
// suggest for Node. Behaviour checked against servicestack-client
// src/index.ts (ServerEventsClient: onConnect sets up the heartbeat timer,
// a non-OK heartbeat reconnects; subscribeToChannels/getChannelSubscribers
// post UpdateEventSubscriber / get GetEventSubscribers).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, randomBytes, randomInt } from 'node:crypto'
import { ServerEventsClient } from '@servicestack/client'
import { EventSource } from 'eventsource'
import { startDemo } from '../server.mjs'

// Short heartbeats so that many cycles fit in the test (see the heartbeat
// test): the server reads EVO_SSE_HEARTBEAT_MS.
const HEARTBEAT_MS = 300
process.env.EVO_SSE_HEARTBEAT_MS = String(HEARTBEAT_MS)

// The demo account (crates/cli/src/demo.rs: DEMO_ACCOUNT_SID,
// DEMO_AUTH_TOKEN; +15550100 rings alice, bob and carol).
const demoAccountSid = 'AC00000000000000000000000000000001'
const demoAuthToken = 'demo-twilio-auth-token'
const mainLine = '+15550100'

globalThis.EventSource = EventSource
let server
// Subscription id -> bearer token: ServerEventsClient posts heartbeats and
// unregisters with the global fetch and no credentials of its own (a
// browser sends its cookies); the server requires the subscription's own
// principal, so Node adds the bearer token.
const tokens = new Map()
const realFetch = globalThis.fetch
globalThis.fetch = (input, init) => {
  if (input instanceof Request) {
    const url = new URL(input.url)
    const token = tokens.get(url.searchParams.get('id'))
    if (token && /^\/event-(heartbeat|unregister)$/.test(url.pathname)) {
      const headers = new Headers(input.headers)
      headers.set('Authorization', `Bearer ${token}`)
      return realFetch(new Request(input, { headers }), init)
    }
  }
  return realFetch(input, init)
}

before(async () => {
  // Slow simulated traffic; the tests pick out their own calls.
  server = await startDemo(['--speed', '0.1', '--concurrent-calls', '1'])
})
after(async () => { await server?.stop() })

async function bearerToken(email) {
  const response = await realFetch(`${server.baseUrl}/auth/credentials`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ provider: 'credentials', userName: email, password: 'demo' }),
  })
  assert.equal(response.status, 200)
  return (await response.json()).bearerToken
}

/** An EventSource that sends the bearer token (the polyfill's fetch hook). */
function authedEventSource(token) {
  return class extends EventSource {
    constructor(url, init) {
      super(url, {
        ...init,
        fetch: (input, options) => realFetch(input, {
          ...options, headers: { ...options.headers, Authorization: `Bearer ${token}` },
        }),
      })
    }
  }
}

/** A started ServerEventsClient for `email`, with every message recorded. */
async function connect(email, channels, handlers = {}, options = {}) {
  const token = await bearerToken(email)
  const seen = []
  const counts = { connect: 0, reconnect: 0, heartbeat: 0 }
  let connected
  const ready = new Promise(resolve => { connected = resolve })
  const client = new ServerEventsClient(server.baseUrl, channels, {
    ...options,
    handlers: {
      onConnect: info => {
        counts.connect++
        tokens.set(info.id, token)
        connected(info)
      },
      onHeartbeat: () => { counts.heartbeat++ },
      // Called for every message after its handler.
      onMessage: message => seen.push({ at: performance.now(), ...message }),
      ...handlers,
    },
    onReconnect: () => { counts.reconnect++ },
  })
  client.EventSource = authedEventSource(token)
  client.serviceClient.bearerToken = token
  client.start()
  const info = await ready
  return { client, seen, counts, info, token }
}

/** Waits until `predicate` holds for a recorded message; returns it. */
async function waitFor(seen, predicate, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = seen.find(predicate)
    if (found) return found
    if (Date.now() > deadline) throw new Error(`no such message among ${seen.map(m => m.selector).join(', ')}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/**
 * Twilio's request signature: HMAC-SHA1 keyed with the account's auth token
 * over the full URL followed by every POST parameter's name and value, sorted
 * by name; base64. https://www.twilio.com/docs/usage/security#validating-requests
 */
function twilioSignature(authToken, url, params) {
  const data = Object.keys(params).sort().reduce((text, key) => text + key + params[key], url)
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf-8')).digest('base64')
}

async function sendWebhook(path, params) {
  const url = `${server.baseUrl}${path}`
  const response = await realFetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Twilio-Signature': twilioSignature(demoAuthToken, url, params),
    },
    body: new URLSearchParams(params).toString(),
  })
  assert.ok(response.status === 200 || response.status === 204, `${path}: ${response.status}`)
}

function incomingCall() {
  // The parameters Twilio sends to a Voice URL for an incoming call:
  // https://www.twilio.com/docs/usage/webhooks/voice-webhooks
  return {
    AccountSid: demoAccountSid, ApiVersion: '2010-04-01', CallSid: `CA${randomBytes(16).toString('hex')}`,
    CallStatus: 'ringing', Direction: 'inbound', From: `+1555${randomInt(1_000_000, 9_999_999)}`, To: mainLine,
  }
}

test('onConnect, then the push messages of a signed webhook within 100 ms', async () => {
  const alice = await connect('alice@acme.example', ['home'])
  // ServiceStack's onConnect: the flat map, parsed by the client.
  assert.ok(alice.info.id)
  assert.equal(alice.info.isAuthenticated, 'true')
  assert.equal(alice.info.heartbeatIntervalMs, HEARTBEAT_MS)
  assert.match(alice.info.heartbeatUrl, /\/event-heartbeat\?id=/)

  const call = incomingCall()
  const sent = performance.now()
  await sendWebhook('/twilio/voice', call)
  const isThisCall = m => m.body?.callSid === call.CallSid || m.body?.from === call.From || m.json?.includes(call.CallSid)
  const changed = await waitFor(alice.seen, m => m.selector === 'cmd.SessionInfoChanged' && isThisCall(m))
  const latency = changed.at - sent
  console.log(`webhook sent -> cmd.SessionInfoChanged received: ${latency.toFixed(1)} ms`)
  assert.ok(latency < 100, `within 100 ms: ${latency} ms`)
  await waitFor(alice.seen, m => m.selector === 'cmd.SessionInvite' && isThisCall(m))
  const list = await waitFor(alice.seen, m => m.selector === 'cmd.ActiveSessionsChanged' && m.json.includes(call.CallSid))
  assert.ok(list.body.sessions.some(s => s.callSid === call.CallSid))

  // The caller hangs up (https://www.twilio.com/docs/voice/api/call-resource#statuscallback).
  await sendWebhook('/twilio/status', {
    ...call, CallStatus: 'completed', CallDuration: '0', SequenceNumber: '0',
    Timestamp: new Date().toUTCString(), CallbackSource: 'call-progress-events',
  })
  await waitFor(alice.seen, m => m.selector === 'cmd.SessionDisconnected' && isThisCall(m))
  const after = await waitFor(alice.seen, m => m.selector === 'cmd.ActiveSessionsChanged' && m !== list && !m.json.includes(call.CallSid))
  assert.ok(after.body.sessions.every(s => s.callSid !== call.CallSid))
  // Ids increase.
  const ids = alice.seen.filter(m => m.selector.startsWith('cmd.Session') || m.selector === 'cmd.ActiveSessionsChanged').map(m => m.eventId)
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b))
  await alice.client.stop()
})

test('subscribeToChannels, getChannelSubscribers and unsubscribeFromChannels', async () => {
  const channel = `room${randomInt(1_000_000)}`
  const joins = []
  const alice = await connect('alice@acme.example', [channel], { onJoin: who => joins.push(who) })
  const bob = await connect('bob@acme.example', ['lobby'])
  await bob.client.subscribeToChannels(channel)
  assert.deepEqual(bob.client.channels.sort(), [channel, 'lobby'].sort())
  const bobJoined = () => joins.find(j => j.userId === bob.info.userId)
  for (let i = 0; i < 100 && !bobJoined(); i++) await new Promise(resolve => setTimeout(resolve, 20))
  assert.ok(bobJoined(), 'alice is told bob joined')
  const subscribers = await alice.client.getChannelSubscribers()
  const users = subscribers.map(s => s.userId).sort()
  assert.deepEqual(users, [alice.info.userId, bob.info.userId].sort())
  assert.ok(subscribers.every(s => s.channels.includes(channel)))
  await bob.client.unsubscribeFromChannels(channel)
  assert.deepEqual(bob.client.channels, ['lobby'])
  const after = await alice.client.getChannelSubscribers()
  assert.deepEqual(after.map(s => s.userId), [alice.info.userId])
  await bob.client.stop()
  await alice.client.stop()
})

// The issue asks for 3 minutes of wall time; that does not fit the suite's
// budget, so the server's heartbeat interval is 300 ms (EVO_SSE_HEARTBEAT_MS,
// default 10 s; idle timeout 3×) and the test runs 15 heartbeat cycles.
test('a connection kept with heartbeats never reconnects', async () => {
  const alice = await connect('alice@acme.example', ['home'])
  const cycles = 15
  await new Promise(resolve => setTimeout(resolve, cycles * HEARTBEAT_MS + HEARTBEAT_MS / 2))
  assert.ok(alice.counts.heartbeat >= cycles - 1, `cmd.onHeartbeat answered each heartbeat: ${alice.counts.heartbeat}`)
  assert.equal(alice.counts.reconnect, 0)
  assert.equal(alice.counts.connect, 1)
  await alice.client.stop()
})

test('resolveStreamUrl with lastEventId resumes exactly after the last message seen', async () => {
  let lastEventId = null
  const alice = await connect('alice@acme.example', ['home'], {}, {
    validate: request => { if (Number.isFinite(request.eventId)) lastEventId = request.eventId; return true },
    resolveStreamUrl: url => {
      if (lastEventId === null) return url
      const resolved = new URL(url, server.baseUrl)
      resolved.searchParams.set('lastEventId', String(lastEventId))
      return resolved.href
    },
  })
  const first = incomingCall()
  await sendWebhook('/twilio/voice', first)
  await waitFor(alice.seen, m => m.selector === 'cmd.SessionInfoChanged' && m.json.includes(first.CallSid))
  // Drop the connection the way a network failure would; the client
  // reconnects through resolveStreamUrl while a call arrives.
  const seenBefore = alice.seen.length
  alice.client.eventSource.close()
  const missed = incomingCall()
  await sendWebhook('/twilio/voice', missed)
  alice.client.reconnectServerEvents({})
  const replayed = await waitFor(alice.seen, m => m.selector === 'cmd.SessionInfoChanged' && m.json.includes(missed.CallSid))
  assert.ok(alice.seen.indexOf(replayed) >= seenBefore)
  // No duplicate of what was seen before the drop.
  const ids = alice.seen.filter(m => !m.selector.includes('.on')).map(m => m.eventId)
  assert.equal(new Set(ids).size, ids.length, `no duplicates: ${ids}`)
  await alice.client.stop()
})
