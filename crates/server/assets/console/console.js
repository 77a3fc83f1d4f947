// The evo-voice agent console: sign in, watch your active sessions live,
// act on them. Plain ES module, no build step.
//
// '@servicestack/client' resolves through the page's import map to the
// vendored copy; '/types/mjs' is the server's own generated DTO module. It
// is imported as a namespace so operations the server does not declare yet
// (HoldSession, ...) do not stop the page from loading.
import { JsonServiceClient, ServerEventsClient } from '@servicestack/client'
import * as dtos from '/types/mjs'

const $ = id => document.getElementById(id)

const client = new JsonServiceClient('/')

const state = {
  user: null,            // the AuthenticateResponse of the signed-in user
  sessions: new Map(),   // session id -> SessionInfo
  removed: new Map(),    // session id -> { final, dateLastModified } of the message that removed it
  cards: new Map(),      // session id -> <li>
  events: null,          // the ServerEventsClient
  lastEventId: null,     // the last Server Events message id seen
  connects: 0,
  retry: 1000,
  retryTimer: null,
  refresh: null,         // { generation, pending: [] } while /sessions/active is in flight
  generation: 0,
}

// ---- helpers --------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'class') node.className = value
    else if (name === 'text') node.textContent = value
    else node.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return node
}

/** The readable message of a failed request (ServiceStack ResponseStatus). */
function messageOf(error) {
  const status = error?.responseStatus ?? error?.ResponseStatus
  if (status?.message) return status.message
  if (status?.errorCode) return status.errorCode
  if (error instanceof Error) return error.message
  if (typeof error?.status === 'number') return `${error.status} ${error.statusText ?? ''}`.trim()
  return String(error)
}

function showError(message) {
  const box = $('error')
  box.textContent = message
  box.hidden = !message
}

function announce(message) {
  const live = $('announcer')
  const line = el('p', { text: message })
  live.append(line)
  // Keep the live region short; assistive technology has read it by then.
  while (live.childElementCount > 5) live.firstElementChild.remove()
}

function setConnection(text) {
  $('connection').textContent = text
}

function words(value) {
  return value ? String(value).replace(/([a-z])([A-Z])/g, '$1 $2') : ''
}

function elapsed(since) {
  const start = Date.parse(since)
  if (Number.isNaN(start)) return ''
  let seconds = Math.max(0, Math.floor((Date.now() - start) / 1000))
  const hours = Math.floor(seconds / 3600)
  seconds -= hours * 3600
  const minutes = Math.floor(seconds / 60)
  seconds -= minutes * 60
  const two = n => String(n).padStart(2, '0')
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${two(minutes)}:${two(seconds)}`
}

function isOnHold(session) {
  return (session.holdReason && session.holdReason !== 'None') || session.callState === 'Hold'
}

function partyLabel(name, address) {
  if (name && address && name !== address) return `${name} (${address})`
  return name || address || 'unknown'
}

// ---- the session list -----------------------------------------------------

/** Whether `incoming` is not older than `known` (an older snapshot never
 * overwrites a newer one; events can cross a /sessions/active read). */
function isCurrent(incoming, known) {
  return !(known?.dateLastModified && incoming.dateLastModified && incoming.dateLastModified < known.dateLastModified)
}

/** Applies one SessionInfo: adds, updates, or removes it when it ended. */
function applySession(session) {
  if (!session?.id) return
  if (state.refresh) state.refresh.pending.push(session)
  // A late, older message must not bring back a session that ended or was
  // disconnected; an ended session never comes back.
  const removed = state.removed.get(session.id)
  if (removed && (removed.final || !isCurrent(session, removed))) return
  // An end is final whatever its time says: it carries Twilio's clock
  // (one-second resolution), which can be behind an agent action's.
  if (session.ended) {
    removeSession(session.id, session)
    return
  }
  const known = state.sessions.get(session.id)
  if (!isCurrent(session, known)) return
  state.sessions.set(session.id, session)
  renderSession(session, known)
}

/** Removes a session; `last` is the message that removed it, if any. */
function removeSession(id, last) {
  if (last) {
    if (state.refresh) state.refresh.pending.push({ ...last, ended: true })
    state.removed.set(id, { final: last.ended === true, dateLastModified: last.dateLastModified })
    // Bounded: old entries are no longer needed.
    if (state.removed.size > 1000) state.removed.delete(state.removed.keys().next().value)
  }
  const known = state.sessions.get(id)
  if (!known) return
  state.sessions.delete(id)
  state.cards.get(id)?.remove()
  state.cards.delete(id)
  announce(`Session ended: ${title(last ?? known)}`)
  updateCount()
}

/** Replaces the whole list with an authoritative one. */
function replaceSessions(sessions) {
  const incoming = new Map(sessions.filter(s => s?.id && !s.ended).map(s => [s.id, s]))
  for (const id of [...state.sessions.keys()]) {
    if (!incoming.has(id)) removeSession(id)
  }
  for (const session of incoming.values()) {
    state.removed.delete(session.id)
    const known = state.sessions.get(session.id)
    state.sessions.set(session.id, session)
    renderSession(session, known)
  }
}

/** Reads /sessions/active; changes that arrive meanwhile are laid on top of
 * the answer, so a change is never lost to a read that started before it. */
async function refreshSessions() {
  const generation = ++state.generation
  state.refresh = { generation, pending: [] }
  try {
    const response = await client.get('/sessions/active')
    if (state.refresh?.generation !== generation || !state.user) return
    const merged = new Map((response.sessions ?? []).map(s => [s.id, s]))
    for (const change of state.refresh.pending) {
      if (isCurrent(change, merged.get(change.id))) merged.set(change.id, change)
    }
    state.refresh = null
    replaceSessions([...merged.values()])
    showError('')
  } catch (error) {
    if (state.refresh?.generation === generation) state.refresh = null
    showError(`Could not read your active sessions: ${messageOf(error)}`)
  }
}

function title(session) {
  if (session.displayName) return session.displayName
  return `${partyLabel(session.fromName, session.fromAddress)} → ${session.toAddress ?? session.destination ?? ''}`
}

function updateCount() {
  const count = state.sessions.size
  $('session-count').textContent = `(${count})`
  $('no-sessions').hidden = count > 0
}

function renderSession(session, previous) {
  let card = state.cards.get(session.id)
  if (!card) {
    card = createCard(session)
    state.cards.set(session.id, card)
    announce(`New session: ${title(session)}, ${words(session.callState)}`)
  } else if (previous && previous.callState !== session.callState) {
    announce(`${title(session)}: ${words(session.callState)}`)
  }
  fillCard(card, session)
  placeCard(card, session)
  updateCount()
}

/** Newest first. */
function placeCard(card, session) {
  const list = $('sessions')
  const created = session.dateCreated ?? ''
  let before = null
  for (const other of list.children) {
    if (other === card) continue
    const otherSession = state.sessions.get(other.dataset.sessionId)
    if ((otherSession?.dateCreated ?? '') < created) { before = other; break }
  }
  if (card.parentNode !== list || card.nextSibling !== before) {
    // Moving a card with focus inside would drop the focus; keep it.
    const focused = card.contains(document.activeElement) ? document.activeElement : null
    list.insertBefore(card, before)
    focused?.focus()
  }
}

function createCard(session) {
  const id = session.id
  const headingId = `session-${id}-title`.replace(/[^A-Za-z0-9_-]/g, '_')
  const destinationId = `${headingId}-destination`
  const card = el('li', { class: 'session', 'data-session-id': id, 'aria-labelledby': headingId })
  const info = el('div', { class: 'info' })
  const heading = el('h3', { id: headingId })
  const hold = el('button', { type: 'button', class: 'hold', 'data-action': 'hold' })
  const end = el('button', { type: 'button', class: 'danger', 'data-action': 'end', text: 'End' })
  const destination = el('input', { id: destinationId, type: 'tel', autocomplete: 'off', placeholder: '+15551234567' })
  const redirect = el('button', { type: 'button', 'data-action': 'redirect', text: 'Redirect' })
  const add = el('button', { type: 'button', 'data-action': 'add-member', text: 'Add to conference' })
  const result = el('p', { class: 'action-error', role: 'alert', hidden: true })
  const actions = el('div', { class: 'actions', role: 'group', 'aria-label': 'Session actions' },
    el('div', { class: 'buttons' }, hold, end),
    el('div', { class: 'transfer' },
      el('label', { for: destinationId, text: 'Destination' }),
      destination,
      el('div', { class: 'buttons' }, redirect, add)),
    result)
  card.append(heading, info, actions)

  const run = async (button, action) => {
    const current = state.sessions.get(id) ?? session
    button.disabled = true
    result.hidden = true
    try {
      const updated = await action(current)
      if (updated?.id) applySession(updated)
    } catch (error) {
      result.textContent = `${button.textContent} failed: ${messageOf(error)}`
      result.hidden = false
    } finally {
      button.disabled = false
    }
  }
  hold.addEventListener('click', () => run(hold, s => isOnHold(s) ? unholdSession(s) : holdSession(s)))
  end.addEventListener('click', () => run(end, endSession))
  const needDestination = fn => s => {
    const value = destination.value.trim()
    if (!value) {
      destination.focus()
      throw new Error('enter a destination first')
    }
    return fn(s, value)
  }
  redirect.addEventListener('click', () => run(redirect, needDestination(redirectSession)))
  add.addEventListener('click', () => run(add, needDestination(addConferenceMember)))
  return card
}

function fillCard(card, session) {
  card.dataset.callState = session.callState ?? ''
  const heading = card.querySelector('h3')
  heading.replaceChildren(
    el('span', { class: `badge state-${String(session.callState ?? 'unknown').toLowerCase()}`, text: words(session.callState) || 'Unknown' }),
    ' ',
    el('span', { class: 'title', text: title(session) }))

  const rows = [
    ['Direction', words(session.direction)],
    ['Channel', words(session.channel)],
    ['From', partyLabel(session.fromName, session.fromAddress)],
    ['To', session.toAddress ?? session.destination],
    ['Line', session.endpointName],
    ['Customer', (session.customerBreadcrumb ?? []).map(c => c.name).join(' › ') || session.customerName],
    ['Queue', session.queueState && session.queueState !== 'None' ? words(session.queueState) : null],
    ['Answered by', session.answeredByName],
    ['Hold', isOnHold(session)
      ? [words(session.holdReason && session.holdReason !== 'None' ? session.holdReason : 'On hold'),
          session.heldByUserId ? `by ${session.heldByUserId}` : null,
          session.holdQueueName ? `in ${session.holdQueueName}` : null].filter(Boolean).join(' ')
      : null],
  ]
  const details = el('dl', { class: 'facts' },
    el('div', {}, el('dt', { text: 'Duration' }),
      el('dd', {}, el('time', { class: 'timer', 'data-since': session.dateCreated, datetime: session.dateCreated, text: elapsed(session.dateCreated) }))),
    rows.filter(([, value]) => value).map(([label, value]) => el('div', {}, el('dt', { text: label }), el('dd', { text: value }))))

  const members = session.members ?? []
  const memberList = el('ul', { class: 'members', 'aria-label': 'Members' },
    members.map(m => el('li', {},
      el('span', { class: 'member-name', text: m.displayName || m.identity || m.endpointId || 'unknown' }),
      ' ',
      el('span', { class: 'role', text: words(m.role) }),
      ' ',
      el('span', { class: `badge member-${String(m.callState ?? 'none').toLowerCase()}`, text: words(m.callState) || 'None' }),
      m.muted ? el('span', { class: 'muted', text: ' muted' }) : null)))

  const info = card.querySelector('.info')
  const log = session.log ?? []
  const wasOpen = info.querySelector('details')?.open ?? false
  const hadFocus = info.contains(document.activeElement)
  const logBlock = el('details', { class: 'log', open: wasOpen },
    el('summary', { text: `Log (${log.length} ${log.length === 1 ? 'entry' : 'entries'})` }),
    el('ol', {}, log.map(entry => el('li', {},
      el('time', { datetime: entry.date, text: entry.date ? new Date(entry.date).toLocaleTimeString() : '' }),
      ' ', entry.message ?? ''))))
  info.replaceChildren(details,
    members.length ? el('h4', { text: 'Members' }) : null,
    members.length ? memberList : null,
    logBlock)
  // The log's summary is the only focusable thing in the replaced part.
  if (hadFocus) logBlock.querySelector('summary').focus()

  const hold = card.querySelector('button.hold')
  const onHold = isOnHold(session)
  // The label says what the button does; no aria-pressed, which would make
  // a screen reader say "Unhold, pressed".
  hold.textContent = onHold ? 'Unhold' : 'Hold'
  hold.classList.toggle('on-hold', onHold)
  card.querySelector('.actions').setAttribute('aria-label', `Actions for ${title(session)}`)
}

setInterval(() => {
  for (const timer of document.querySelectorAll('time.timer')) {
    timer.textContent = elapsed(timer.dataset.since)
  }
}, 1000)

// ---- agent actions (issue 17) ---------------------------------------------
// Sent to their routes with the bearer token (and the refresh token when it
// expires); the DTO class is used when the server's /types/mjs declares it.

function dto(name, fields) {
  const Type = dtos[name]
  return Type ? new Type(fields) : fields
}

const path = id => `/sessions/${encodeURIComponent(id)}`

function ourNumber(session) {
  return session.direction === 'Outgoing' ? session.fromAddress : session.toAddress
}

function holdSession(session) {
  // Transferring is the only hold reason the contract defines.
  const body = dto('HoldSession', { sessionId: session.id, callSid: session.callSid, reason: 'Transferring' })
  return client.postToUrl(`${path(session.id)}/hold`, body)
}

function unholdSession(session) {
  const body = dto('PatchSession', { sessionId: session.id, holdReason: 'None' })
  return client.patchToUrl(path(session.id), body)
}

function redirectSession(session, destination) {
  const body = dto('RedirectSession', { sessionId: session.id, destination, callerId: ourNumber(session) })
  return client.postToUrl(`${path(session.id)}/redirect`, body)
}

function addConferenceMember(session, destination) {
  const body = dto('AddConferenceMember', { sessionId: session.id, callSid: session.callSid, destination, fromNumber: ourNumber(session) })
  return client.postToUrl(`${path(session.id)}/conference/members`, body)
}

function endSession(session) {
  // DELETE carries no body: CallSid goes in the query.
  return client.delete(path(session.id), session.callSid ? { callSid: session.callSid } : undefined)
}

// ---- Server Events --------------------------------------------------------

function withLastEventId(url) {
  if (state.lastEventId === null) return url
  const resolved = new URL(url, location.href)
  resolved.searchParams.set('lastEventId', String(state.lastEventId))
  return resolved.href
}

function startEvents() {
  stopEvents()
  const events = new ServerEventsClient('/', ['*'], {
    // Called for every message before its handler: remember where we are.
    validate: request => {
      if (Number.isFinite(request.eventId)) state.lastEventId = request.eventId
      return true
    },
    resolveStreamUrl: withLastEventId,
    handlers: {
      onConnect: () => {
        state.connects++
        state.retry = 1000
        setConnection('Live')
        // The stream starts now: read the list so nothing between the last
        // read and this connection is missed.
        refreshSessions()
      },
      SessionInfoChanged: applySession,
      SessionInvite: applySession,
      SessionAnswered: applySession,
      SessionHeld: applySession,
      SessionDisconnected: session => session?.id && removeSession(session.id, session),
      ActiveSessionsChanged: body => {
        if (state.refresh) state.refresh = null // authoritative: supersedes the read in flight
        replaceSessions(body?.sessions ?? [])
      },
      // Today's server message (one SessionInfo).
      sessionChanged: applySession,
    },
    onException: () => {
      if (!state.user) return
      setConnection('Reconnecting…')
      // A refused stream (e.g. 401) closes for good; try again with backoff.
      if (events.eventSource?.readyState === 2 && !state.retryTimer) {
        state.retryTimer = setTimeout(() => {
          state.retryTimer = null
          if (state.events === events && state.user) events.reconnectServerEvents({})
        }, state.retry)
        state.retry = Math.min(state.retry * 2, 30000)
      }
    },
    onReconnect: () => {
      setConnection('Reconnecting…')
    },
  })
  state.events = events
  events.start()
}

function stopEvents() {
  clearTimeout(state.retryTimer)
  state.retryTimer = null
  const events = state.events
  state.events = null
  if (events) events.stop().catch(() => {})
}

// ---- sign in / out --------------------------------------------------------

function showSignedIn(signedIn) {
  $('sign-in').hidden = signedIn
  $('sessions-section').hidden = !signedIn
  $('who').hidden = !signedIn
}

async function signIn(event) {
  event.preventDefault()
  const email = $('email').value.trim()
  const password = $('password').value
  if (!email || !password) {
    showError('Enter your email and password')
    return
  }
  const button = $('sign-in-button')
  button.disabled = true
  try {
    const request = new dtos.Authenticate({ provider: 'credentials', userName: email, password })
    const response = await client.postToUrl('/auth/credentials', request)
    client.bearerToken = response.bearerToken
    client.refreshToken = response.refreshToken
    state.user = response
    $('password').value = ''
    $('user-name').textContent = response.displayName || response.userName || email
    showError('')
    showSignedIn(true)
    $('main').focus()
    refreshSessions()
    startEvents()
  } catch (error) {
    showError(`Sign in failed: ${messageOf(error)}`)
  } finally {
    button.disabled = false
  }
}

async function signOut() {
  stopEvents()
  try {
    await client.postToUrl('/auth/logout', dto('Authenticate', { provider: 'logout' }))
  } catch (error) {
    showError(`Sign out failed: ${messageOf(error)}`)
  }
  client.bearerToken = null
  client.refreshToken = null
  state.user = null
  state.lastEventId = null
  state.refresh = null
  state.sessions.clear()
  state.removed.clear()
  state.cards.clear()
  $('sessions').replaceChildren()
  updateCount()
  setConnection('Offline')
  showSignedIn(false)
  $('email').focus()
}

$('sign-in-form').addEventListener('submit', signIn)
$('sign-out').addEventListener('click', signOut)
showSignedIn(false)
document.documentElement.dataset.ready = 'true'
