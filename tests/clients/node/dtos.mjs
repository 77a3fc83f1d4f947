// Request DTOs for the client tests, in the shape ServiceStack's
// TypeScript generator emits (getTypeName / getMethod / createResponse).
export class AuthenticateResponse {
  constructor(init) { Object.assign(this, init) }
}
export class Authenticate {
  constructor(init) { Object.assign(this, init) }
  getTypeName() { return 'Authenticate' }
  getMethod() { return 'POST' }
  createResponse() { return new AuthenticateResponse() }
}
export class GetActiveSessionsResponse {
  constructor(init) { Object.assign(this, init) }
}
export class GetActiveSessions {
  constructor(init) { Object.assign(this, init) }
  getTypeName() { return 'GetActiveSessions' }
  getMethod() { return 'GET' }
  createResponse() { return new GetActiveSessionsResponse() }
}
