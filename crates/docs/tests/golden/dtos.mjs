/* Options:
Date: 2026-11-25 10:00:00
Version: 8.0
Tip: To override a DTO option, remove "//" prefix before updating
BaseUrl: https://voice.example

//GlobalNamespace: Voice.Api
//AddServiceStackTypes: True
IncludeTypes: GetActiveSessions.*
//ExcludeTypes: 
*/

"use strict";

export class EntityInfo {
    /** @param {{id?:string,dateCreated?:string,dateLastModified?:string,createdBy?:string,lastModifiedBy?:string}} [init] */
    constructor(init) { Object.assign(this, init) }
}

export const SessionDialState = Object.freeze({ None: 'None', Active: 'Active' });

export const SessionCallState = Object.freeze({ Disconnected: 'Disconnected', Ringing: 'Ringing', Connected: 'Connected', Hold: 'Hold', Passive: 'Passive' });

export const SessionQueueStates = Object.freeze({ None: 'None', Queued: 'Queued', Ringing: 'Ringing', Connected: 'Connected', Hold: 'Hold', Disconnected: 'Disconnected' });

export class CustomerBreadcrumb {
    /** @param {{id?:string,name?:string}} [init] */
    constructor(init) { Object.assign(this, init) }
}

export const FlowChannels = Object.freeze({ Voice: 'Voice', Chat: 'Chat', Fax: 'Fax' });

export const SessionHoldReasons = Object.freeze({ None: 'None', Transferring: 'Transferring' });

export class SessionLogInfo {
    /** @param {{date?:string,message?:string}} [init] */
    constructor(init) { Object.assign(this, init) }
}

export const SessionMemberCallState = Object.freeze({ None: 'None', Ringing: 'Ringing', Connected: 'Connected', Hold: 'Hold' });

export const SessionMemberRoles = Object.freeze({ None: 'None', Caller: 'Caller', Agent: 'Agent', Transfer: 'Transfer' });

export class SessionMemberInfo {
    /** @param {{identity?:string,endpointId?:string,displayName?:string,isOriginalMember?:boolean,avatarUrl?:string,applicationData?:{ [index: string]: string; },callState?:SessionMemberCallState,role?:SessionMemberRoles,callSid?:string,muted?:boolean}} [init] */
    constructor(init) { Object.assign(this, init) }
}

export const SessionDirections = Object.freeze({ Incoming: 'Incoming', Outgoing: 'Outgoing' });

export class SessionInfo extends EntityInfo {
    /** @param {{dialState?:SessionDialState,callState?:SessionCallState,queueState?:SessionQueueStates,accountId?:string,accountName?:string,customerId?:string,customerBreadcrumb?:CustomerBreadcrumb[],customerName?:string,endpointId?:string,endpointName?:string,dateCompleted?:string,destination?:string,toAddress?:string,fromAddress?:string,fromName?:string,answeredByName?:string,queueMemberId?:string,channel?:FlowChannels,ended?:boolean,outcome?:string,callSid?:string,consoleData?:string,holdQueueName?:string,heldByUserId?:string,holdReason?:SessionHoldReasons,conferenceSid?:string,displayName?:string,log?:SessionLogInfo[],members?:SessionMemberInfo[],callbackNumber?:string,answeredById?:string,direction?:SessionDirections,fromPhoneNumber?:string,mostRecentParticipantCallSid?:string,wasMissed?:boolean,ringQueueId?:string}} [init] */
    constructor(init) { super(init); Object.assign(this, init) }
}

export class GetActiveSessionsResponse {
    /** @param {{sessions?:SessionInfo[]}} [init] */
    constructor(init) { Object.assign(this, init) }
}

/** @description Get your active sessions. Will eventually replace GetMySessions */
export class GetActiveSessions {
    /** @param {{}} [init] */
    constructor(init) { Object.assign(this, init) }
    getTypeName() { return 'GetActiveSessions' }
    getMethod() { return 'GET' }
    createResponse() { return new GetActiveSessionsResponse() }
}

