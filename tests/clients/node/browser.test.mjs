// A browser imports /types/mjs as an ES module (it must be served as
// JavaScript: NativeTypesService.cs serves TypesMjs as MimeTypes.JavaScript).
// Debian's Chromium (/usr/bin/chromium), driven by playwright-core; never a
// downloaded browser. Under CI=true a missing Chromium fails the test.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { startDemo } from '../server.mjs'

const executablePath = '/usr/bin/chromium'
let server, context, profile
before(async () => {
  assert.ok(existsSync(executablePath), 'Chromium is required: apt-get install chromium (scripts/test.sh does)')
  server = await startDemo()
  profile = mkdtempSync(join(tmpdir(), 'evo-voice-chromium-'))
  // A fresh profile directory (playwright passes it as --user-data-dir).
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
})
after(async () => {
  await context?.close()
  await server?.stop()
  if (profile) rmSync(profile, { recursive: true, force: true })
})

test('a browser imports /types/mjs as an ES module', async () => {
  const page = await context.newPage()
  await page.goto(`${server.baseUrl}/metadata`)
  const result = await page.evaluate(async () => {
    const dtos = await import('/types/mjs')
    const request = new dtos.GetActiveSessions()
    return {
      exports: Object.keys(dtos).sort(),
      typeName: request.getTypeName(),
      method: request.getMethod(),
      session: new dtos.SessionInfo({ id: 's1' }).id,
    }
  })
  assert.ok(result.exports.includes('GetActiveSessions'), result.exports.join(','))
  assert.ok(result.exports.includes('SessionInfo'))
  assert.equal(result.typeName, 'GetActiveSessions')
  assert.equal(result.method, 'GET')
  assert.equal(result.session, 's1')
  await page.close()
})
