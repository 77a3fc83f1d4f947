// The real @servicestack/client against a running evo-voice demo whose Twilio
// REST API is a local fake (../fake-twilio.mjs): a read (GetSession) and the
// agent actions HoldSession, PatchSession (unhold) and EndSession through the
// TypeScript DTOs the server generates, compiled with tsc --strict.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { JsonServiceClient } from '@servicestack/client'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execFileSync } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { startDemo } from '../server.mjs'
import { startFakeTwilio } from '../fake-twilio.mjs'

// The demo account's Twilio credentials and main line (crates/cli/src/demo.rs).
const accountSid = 'AC00000000000000000000000000000001'
const authToken = 'demo-twilio-auth-token'

let server, twilio, dtos
before(async () => {
  twilio = await startFakeTwilio({ [accountSid]: authToken })
  server = await startDemo(['--speed', '1', '--concurrent-calls', '1', '--twilio-api-url', twilio.url])
  const dir = mkdtempSync(join(tmpdir(), 'evo-voice-actions-dtos-'))
  const source = await (await fetch(`${server.baseUrl}/types/typescript`)).text()
  writeFileSync(join(dir, 'dtos.ts'), source)
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  const tsc = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'tsc')
  execFileSync(tsc, ['--strict', '--target', 'es2020', '--module', 'es2020', '--outDir', dir, join(dir, 'dtos.ts')], { stdio: 'pipe' })
  dtos = await import(pathToFileURL(join(dir, 'dtos.js')).href)
})
after(async () => {
  await server?.stop()
  await twilio?.stop()
})

/** Twilio's signature: https://www.twilio.com/docs/usage/security#validating-requests */
async function webhook(path, params) {
  const url = `${server.baseUrl}${path}`
  const data = Object.keys(params).sort().reduce((text, key) => text + key + params[key], url)
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Twilio-Signature': createHmac('sha1', authToken).update(data).digest('base64'),
    },
    body: new URLSearchParams(params).toString(),
  })
  assert.ok([200, 204].includes(response.status), `${path}: ${response.status}`)
}

test('hold, unhold and end a call through the generated DTOs; Twilio gets the REST requests', async () => {
  const client = new JsonServiceClient(server.baseUrl)
  const auth = await client.post(new dtos.Authenticate({ provider: 'credentials', userName: 'alice@acme.example', password: 'demo' }))
  client.bearerToken = auth.bearerToken

  // A call rings alice (the voice webhook) and she answers (her leg's
  // status callbacks), as Twilio reports it.
  const callSid = `CA${randomBytes(16).toString('hex')}`
  const legSid = `CA${randomBytes(16).toString('hex')}`
  await webhook('/twilio/voice', {
    AccountSid: accountSid, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'ringing',
    Direction: 'inbound', From: '+15551239876', To: '+15550100',
  })
  // Session ids are scoped by account; the new call's is read back.
  const active = await client.get(new dtos.GetActiveSessions())
  const sessionId = active.sessions.find(session => session.callSid === callSid).id
  for (const [status, seq] of [['ringing', '1'], ['in-progress', '2']]) {
    await webhook(`/twilio/status?session=${sessionId}&user=${auth.userId}`, {
      AccountSid: accountSid, CallSid: legSid, ParentCallSid: callSid, CallStatus: status,
      SequenceNumber: seq, CallbackSource: 'call-progress-events',
    })
  }
  const connected = await client.get(new dtos.GetSession({ sessionId }))
  assert.equal(connected.callState, 'Connected')

  const held = await client.post(new dtos.HoldSession({ sessionId, callSid, reason: 'Transferring' }))
  assert.equal(held.callState, 'Hold')
  assert.equal(held.holdReason, 'Transferring')
  assert.equal(held.heldByUserId, auth.userId)
  assert.equal(held.holdQueueName, `hold-${sessionId}`)
  const hold = twilio.requests.at(-1)
  assert.equal(hold.method, 'POST')
  assert.equal(hold.path, `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}.json`)
  assert.equal(hold.user, accountSid)
  assert.match(hold.form.Twiml, new RegExp(`<Enqueue waitUrl="[^"]+">hold-${sessionId}</Enqueue>`))

  // A retry sends nothing more.
  const count = twilio.requests.length
  await client.post(new dtos.HoldSession({ sessionId, callSid, reason: 'Transferring' }))
  assert.equal(twilio.requests.length, count)

  const unheld = await client.patch(new dtos.PatchSession({ sessionId, holdReason: 'None' }))
  assert.notEqual(unheld.callState, 'Hold')
  assert.match(twilio.requests.at(-1).form.Twiml, new RegExp(`>${auth.userId}</Client>`))

  await client.delete(new dtos.EndSession({ sessionId, callSid }))
  assert.deepEqual(twilio.requests.at(-1).form, { Status: 'completed' })
  // Twilio reports the end; the session is over.
  await webhook(`/twilio/status?session=${sessionId}`, {
    AccountSid: accountSid, CallSid: callSid, CallStatus: 'completed', CallDuration: '30',
    SequenceNumber: '3', CallbackSource: 'call-progress-events',
  })
  const ended = await client.get(new dtos.GetSession({ sessionId }))
  assert.equal(ended.callState, 'Disconnected')
  assert.ok(ended.log.some(line => line.message.startsWith('Hang-up requested by')))

  // Acting on it now is a 409 the client raises with the ResponseStatus.
  await assert.rejects(client.post(new dtos.HoldSession({ sessionId, reason: 'Transferring' })),
    error => error.responseStatus?.errorCode === 'Conflict')
})
