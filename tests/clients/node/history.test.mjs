// The real @servicestack/client against a running evo-voice demo: ListSessions
// (ListRequest paging, ListResponse<SessionInfo>) and GetSession through the
// TypeScript DTOs the server generates, compiled with tsc --strict.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { JsonServiceClient } from '@servicestack/client'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execFileSync } from 'node:child_process'
import { startDemo } from '../server.mjs'

let server, dtos
before(async () => {
  server = await startDemo(['--speed', '20'])
  const dir = mkdtempSync(join(tmpdir(), 'evo-voice-history-dtos-'))
  const source = await (await fetch(`${server.baseUrl}/types/typescript`)).text()
  writeFileSync(join(dir, 'dtos.ts'), source)
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  const tsc = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'tsc')
  execFileSync(tsc, ['--strict', '--target', 'es2020', '--module', 'es2020', '--outDir', dir, join(dir, 'dtos.ts')], { stdio: 'pipe' })
  dtos = await import(pathToFileURL(join(dir, 'dtos.js')).href)
})
after(async () => { await server?.stop() })

async function signedIn(userName) {
  const client = new JsonServiceClient(server.baseUrl)
  const auth = await client.post(new dtos.Authenticate({ provider: 'credentials', userName, password: 'demo' }))
  client.bearerToken = auth.bearerToken
  return client
}

/** Polls ListSessions until it returns at least one item. */
async function firstPage(client, request) {
  for (let i = 0; i < 120; i++) {
    const page = await client.get(request)
    if (page.items.length > 0) return page
    await new Promise(r => setTimeout(r, 250))
  }
  assert.fail('the demo produced no sessions for ' + JSON.stringify(request))
}

test('ListSessions pages the history and GetSession reads one of its sessions', async () => {
  const maria = await signedIn('maria@acme.example') // Manager: the whole account
  const request = new dtos.ListSessions({ searchArchive: true, countPerPage: 1, page: 0, sortOrder: dtos.SortOrders.Descend })
  assert.equal(request.getTypeName(), 'ListSessions')
  assert.equal(request.getMethod(), 'GET')
  const page = await firstPage(maria, request)
  assert.equal(page.items.length, 1)
  assert.ok(page.totalCount >= 1)
  assert.equal(page.totalPages, page.totalCount)
  assert.equal(page.hasMorePages, page.totalCount > 1)
  const listed = page.items[0]
  assert.equal(listed.ended, true)
  assert.equal(listed.accountName, 'Acme Telecom')

  const one = await maria.get(new dtos.GetSession({ sessionId: listed.id }))
  assert.equal(one.id, listed.id)
  assert.equal(one.ended, true)
  assert.deepEqual(one.members, listed.members)

  const past = await maria.get(new dtos.ListSessions({ searchArchive: true, countPerPage: 5, page: 100000, simplifiedPaging: true }))
  assert.deepEqual(past.items, [])
  assert.equal(past.hasMorePages, false)
})

test('nonsense paging and hidden sessions answer with a ResponseStatus', async () => {
  const alice = await signedIn('alice@acme.example')
  await assert.rejects(alice.get(new dtos.ListSessions({ countPerPage: 0 })), error => {
    assert.equal(error.responseStatus.errors[0].fieldName, 'CountPerPage')
    return true
  })
  await assert.rejects(alice.get(new dtos.GetSession({ sessionId: 'ses-does-not-exist' })), error => {
    assert.equal(error.responseStatus.errorCode, 'NotFound')
    return true
  })
})
