// A minimal stand-in for Twilio's REST API (the Call resource update that
// the agent actions send), for the client tests: it records every request
// (method, path, Basic auth user, form fields) and answers with the Call
// resource JSON Twilio returns
// (https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource).
import { createServer } from 'node:http'

export async function startFakeTwilio(accounts) {
  const requests = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', chunk => { body += chunk })
    request.on('end', () => {
      const url = new URL(request.url, 'http://fake')
      const auth = (request.headers.authorization ?? '').replace(/^Basic /, '')
      const [user, password] = Buffer.from(auth, 'base64').toString().split(':')
      const form = Object.fromEntries(new URLSearchParams(body))
      requests.push({ method: request.method, path: url.pathname, user, form })
      const send = (status, json) => {
        response.writeHead(status, { 'Content-Type': 'application/json' })
        response.end(JSON.stringify(json))
      }
      const match = url.pathname.match(/^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/([^/]+)\.json$/)
      if (!match || accounts[user] !== password || match[1] !== user) {
        return send(401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 })
      }
      const [, account, sid] = match
      const now = new Date().toUTCString()
      send(200, {
        account_sid: account, annotation: null, answered_by: null, api_version: '2010-04-01',
        caller_name: null, date_created: now, date_updated: now, direction: 'inbound',
        duration: null, end_time: null, forwarded_from: null, from: '+15551230000',
        from_formatted: '(555) 123-0000', group_sid: null, parent_call_sid: null,
        phone_number_sid: null, price: null, price_unit: 'USD', queue_time: '0', sid,
        start_time: now, status: form.Status === 'completed' ? 'completed' : 'in-progress',
        subresource_uris: {}, to: '+15550100', to_formatted: '(555) 010-0', trunk_sid: null,
        uri: `/2010-04-01/Accounts/${account}/Calls/${sid}.json`,
      })
    })
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    stop: () => new Promise(resolve => server.close(resolve)),
  }
}
