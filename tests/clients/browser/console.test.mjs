// The agent console in a real browser: Debian's Chromium (/usr/bin/chromium,
// or CHROMIUM_PATH), driven by playwright-core (pinned; it never downloads a
// browser), against `evo-voice demo`.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { startDemo } from '../server.mjs'
import { startFakeTwilio } from '../fake-twilio.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const alice = { email: 'alice@acme.example', password: 'demo' }
// The demo account's Twilio credentials and main line (crates/cli/src/demo.rs:
// DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, +15550100 rings alice, bob and carol).
const demoAccountSid = 'AC00000000000000000000000000000001'
const demoAuthToken = 'demo-twilio-auth-token'
const mainLine = '+15550100'

let server, twilio, context, page, userDataDir
const pageErrors = []

before(async () => {
  // Slow simulated traffic: the page still changes, but rarely enough to
  // compare it with /sessions/active.
  // The agent actions reach Twilio's REST API: a local fake records them.
  twilio = await startFakeTwilio({ [demoAccountSid]: demoAuthToken })
  server = await startDemo(['--speed', '1', '--concurrent-calls', '2', '--twilio-api-url', twilio.url])
  userDataDir = mkdtempSync(join(tmpdir(), 'evo-voice-chromium-'))
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1100, height: 900 },
  })
  page = context.pages()[0] ?? await context.newPage()
  page.on('pageerror', error => pageErrors.push(`page error: ${error.message}`))
  page.on('console', message => {
    // CSP violations and failed module loads are reported as console errors.
    // The one expected failure is the redirect to a destination that is no
    // user, number or queue (a 400, see the live-update test).
    if (message.type() !== 'error') return
    const url = message.location()?.url ?? ''
    if (/\/sessions\/[^/]+\/redirect$/.test(new URL(url || 'about:blank').pathname)) return
    // The reconnect test takes the browser offline on purpose.
    if (message.text().includes('net::ERR_INTERNET_DISCONNECTED')) return
    pageErrors.push(`console: ${message.text()} (${url})`)
  })
})

after(async () => {
  await context?.close()
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true })
  await server?.stop()
  await twilio?.stop()
})

/** Retries `check` until it stops throwing, or rethrows after `timeoutMs`. */
async function eventually(check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
}

async function signIn() {
  const response = await fetch(`${server.baseUrl}/auth/credentials`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ provider: 'credentials', userName: alice.email, password: alice.password }),
  })
  assert.equal(response.status, 200)
  return response.json()
}

async function bearerToken() {
  return (await signIn()).bearerToken
}

async function activeSessions(token) {
  const response = await fetch(`${server.baseUrl}/sessions/active`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  })
  assert.equal(response.status, 200)
  return (await response.json()).sessions
}

/** What the page shows: session id → call state badge. */
async function shownSessions() {
  return page.locator('li.session').evaluateAll(cards => Object.fromEntries(
    cards.map(card => [card.dataset.sessionId, card.querySelector('h3 .badge').textContent])))
}

/**
 * Twilio's request signature: HMAC-SHA1 keyed with the account's auth token
 * over the full URL followed by every POST parameter's name and value, sorted
 * by name; base64. https://www.twilio.com/docs/usage/security#validating-requests
 * (same algorithm as twilio-node's getExpectedTwilioSignature).
 */
function twilioSignature(authToken, url, params) {
  const data = Object.keys(params).sort().reduce((text, key) => text + key + params[key], url)
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf-8')).digest('base64')
}

async function sendWebhook(path, params) {
  const url = `${server.baseUrl}${path}`
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Twilio-Signature': twilioSignature(demoAuthToken, url, params),
    },
    body: new URLSearchParams(params).toString(),
  })
  assert.ok(response.status === 200 || response.status === 204, `${path}: ${response.status} ${await response.text()}`)
}

test('/ and /console serve the page with a strict Content-Security-Policy', async () => {
  for (const path of ['/', '/console']) {
    const response = await fetch(`${server.baseUrl}${path}`)
    assert.equal(response.status, 200, path)
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8')
    const policy = response.headers.get('content-security-policy')
    assert.match(policy, /(^|; )default-src 'none'(;|$)/)
    assert.match(policy, /(^|; )connect-src 'self'(;|$)/)
    assert.match(policy, /(^|; )frame-ancestors 'none'(;|$)/)
    assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/)
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(response.headers.get('x-frame-options'), 'DENY')
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer')
    // The only inline script is the import map, allowed by its hash.
    const html = await response.text()
    const inline = [...html.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)].filter(([, , body]) => body.length > 0)
    assert.equal(inline.length, 1)
    assert.match(inline[0][1], /type="importmap"/)
    const hash = createHash('sha256').update(inline[0][2]).digest('base64')
    assert.match(policy, new RegExp(`(^|; )script-src 'self' 'sha256-${hash.replace(/[+/=]/g, c => `\\${c}`)}'(;|$)`))
  }
})

test('signing in lists the same active sessions as GET /sessions/active', async () => {
  const token = await bearerToken()
  // The demo's traffic gives alice sessions soon after start.
  await eventually(async () => assert.ok((await activeSessions(token)).length > 0, 'alice has sessions'), 30_000)

  await page.goto(`${server.baseUrl}/`)
  await page.getByLabel('Email').fill(alice.email)
  await page.getByLabel('Password').fill(alice.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
  assert.equal(await page.locator('#user-name').textContent(), 'Alice Agent')

  // Simulated calls keep changing: the page and the server agree once the
  // latest change has reached both.
  await eventually(async () => {
    const expected = Object.fromEntries((await activeSessions(token)).map(s => [s.id, s.callState]))
    assert.ok(Object.keys(expected).length > 0)
    assert.deepEqual(await shownSessions(), expected)
  })
  const first = page.locator('li.session').first()
  for (const label of ['Duration', 'Direction', 'Channel', 'From', 'Customer']) {
    await first.locator('dt', { hasText: label }).first().waitFor()
  }
  assert.match(await first.locator('dd', { hasText: 'Acme Holdings › Acme West' }).textContent(), /Acme Holdings › Acme West/)
})

test('a call arriving while the page is open appears live, connects, is held and unheld from the console, shows action errors, and ends', async () => {
  const callSid = `CA${randomBytes(16).toString('hex')}`
  const legSid = `CA${randomBytes(16).toString('hex')}`
  const caller = `+1555${String(randomInt(1_000_000, 9_999_999))}`
  // The parameters Twilio always sends to a Voice URL for an incoming call:
  // https://www.twilio.com/docs/usage/webhooks/voice-webhooks
  const call = {
    AccountSid: demoAccountSid, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'ringing',
    Direction: 'inbound', From: caller, To: mainLine,
  }
  await sendWebhook('/twilio/voice', call)
  const card = page.locator('li.session', { hasText: caller })
  await card.waitFor({ timeout: 10_000 })
  const badge = card.locator('h3 .badge')
  assert.equal(await badge.textContent(), 'Ringing')
  assert.match(await page.locator('#announcer').textContent(), new RegExp(`New session: .*\\${caller}`))

  // Alice answers: her leg's status callbacks, as Twilio sends them
  // (https://www.twilio.com/docs/voice/api/call-resource#statuscallback).
  const sessionId = await card.getAttribute('data-session-id')
  const { userId } = await signIn()
  for (const [status, seq] of [['ringing', '1'], ['in-progress', '2']]) {
    await sendWebhook(`/twilio/status?session=${encodeURIComponent(sessionId)}&user=${userId}`, {
      AccountSid: demoAccountSid, ApiVersion: '2010-04-01', CallSid: legSid, ParentCallSid: callSid,
      CallStatus: status, SequenceNumber: seq, CallbackSource: 'call-progress-events',
      Direction: 'outbound-dial', From: caller, To: `client:${userId}`, Timestamp: new Date().toUTCString(),
    })
  }
  await eventually(async () => assert.equal(await badge.textContent(), 'Connected'))

  // Hold from the console: Twilio is asked to move the caller's leg to the
  // hold queue, and the card shows the hold.
  const holdButton = card.getByRole('button', { name: 'Hold' })
  await holdButton.click()
  await eventually(async () => assert.equal(await badge.textContent(), 'Hold'))
  const hold = twilio.requests.at(-1)
  assert.equal(hold.method, 'POST')
  assert.equal(hold.path, `/2010-04-01/Accounts/${demoAccountSid}/Calls/${callSid}.json`)
  assert.equal(hold.user, demoAccountSid)
  assert.match(hold.form.Twiml, /<Enqueue waitUrl="[^"]+">hold-/)
  assert.match(await card.locator('dd', { hasText: 'in hold-' }).textContent(), new RegExp(`Transferring by ${userId} in hold-`))

  // Unhold: the caller's leg rings alice again.
  await card.getByRole('button', { name: 'Unhold' }).click()
  await eventually(async () => assert.notEqual(await badge.textContent(), 'Hold'))
  assert.match(twilio.requests.at(-1).form.Twiml, new RegExp(`>${userId}</Client>`))

  // An action the server refuses shows its ResponseStatus message.
  const destination = card.getByLabel('Destination')
  await destination.fill('nobody-here')
  const refused = page.waitForResponse(response => new URL(response.url()).pathname.endsWith('/redirect'))
  await card.getByRole('button', { name: 'Redirect' }).click()
  const response = await refused
  assert.equal(response.status(), 400)
  const { responseStatus } = await response.json()
  const alert = card.getByRole('alert')
  await alert.waitFor()
  assert.equal(await alert.textContent(), `Redirect failed: ${responseStatus.message}`)

  // End: Twilio is asked to complete the call, then reports it completed
  // and the card goes away.
  await card.getByRole('button', { name: 'End' }).click()
  await eventually(() => assert.deepEqual(twilio.requests.at(-1).form, { Status: 'completed' }))
  await sendWebhook('/twilio/status', {
    ...call, CallStatus: 'completed', CallDuration: '42', SequenceNumber: '3',
    Timestamp: new Date().toUTCString(), CallbackSource: 'call-progress-events',
  })
  const ended = await (await fetch(`${server.baseUrl}/sessions/${encodeURIComponent(sessionId)}`, {
    headers: { Authorization: `Bearer ${await bearerToken()}`, Accept: 'application/json' },
  })).json()
  assert.equal(ended.callState, 'Disconnected', JSON.stringify(ended))
  await card.waitFor({ state: 'detached', timeout: 10_000 })
})

test('after the connection drops, the console reconnects and reads the sessions it missed', async () => {
  const callSid = `CA${randomBytes(16).toString('hex')}`
  const caller = `+1555${String(randomInt(1_000_000, 9_999_999))}`
  const call = {
    AccountSid: demoAccountSid, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'ringing',
    Direction: 'inbound', From: caller, To: mainLine,
  }
  await context.setOffline(true)
  await page.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor({ timeout: 20_000 })
  await sendWebhook('/twilio/voice', call)
  const card = page.locator('li.session', { hasText: caller })
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.equal(await card.count(), 0, 'no update reaches an offline page')
  const streams = []
  const onRequest = request => {
    const url = new URL(request.url())
    if (url.pathname === '/event-stream') streams.push(url)
  }
  page.on('request', onRequest)
  await context.setOffline(false)
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 })
  await card.waitFor({ timeout: 10_000 })
  page.off('request', onRequest)
  // The new stream asks to resume after the last message seen.
  assert.ok(streams.length > 0, 'the console opened a new stream')
  assert.match(streams.at(-1).searchParams.get('lastEventId') ?? '', /^[1-9][0-9]*$/)
  await sendWebhook('/twilio/status', {
    ...call, CallStatus: 'completed', CallDuration: '0', SequenceNumber: '0',
    Timestamp: new Date().toUTCString(), CallbackSource: 'call-progress-events',
  })
  await card.waitFor({ state: 'detached', timeout: 10_000 })
})

// The screenshot goes to docs/console.png only when EVO_UPDATE_SCREENSHOT=1
// (so a CI run leaves the tree clean); otherwise to a temporary file.
test('the page fits a 360 px wide screen and a screenshot can be taken', async () => {
  await page.setViewportSize({ width: 360, height: 800 })
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth])
  assert.ok(widths[0] <= widths[1], `no horizontal scroll at 360 px (scrollWidth ${widths[0]})`)
  await page.setViewportSize({ width: 1100, height: 900 })
  await page.locator('li.session details summary').first().click()
  const target = process.env.EVO_UPDATE_SCREENSHOT === '1'
    ? join(root, 'docs', 'console.png')
    : join(mkdtempSync(join(tmpdir(), 'evo-console-')), 'console.png')
  mkdirSync(dirname(target), { recursive: true })
  const png = await page.screenshot({ path: target })
  assert.ok(png.length > 10_000, `a real screenshot (${png.length} bytes)`)
})

test('signing out calls /auth/logout and shows the sign-in form', async () => {
  const logout = page.waitForResponse(response => new URL(response.url()).pathname === '/auth/logout')
  await page.getByRole('button', { name: 'Sign out' }).click()
  assert.equal((await logout).status(), 200)
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  assert.equal(await page.locator('li.session').count(), 0)
})

test('the page loaded and ran without errors or CSP violations', () => {
  assert.deepEqual(pageErrors, [])
})
