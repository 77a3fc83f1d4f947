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

import 'package:servicestack/servicestack.dart';

class EntityInfo implements IConvertible
{
    /**
    * The ID of the object
    */
    String? id;
    /**
    * The date the object was created
    */
    String? dateCreated;
    /**
    * The date the object was last modified
    */
    String? dateLastModified;
    /**
    * The user that created this object
    */
    String? createdBy;
    /**
    * The user that last modified this object
    */
    String? lastModifiedBy;

    EntityInfo({this.id,this.dateCreated,this.dateLastModified,this.createdBy,this.lastModifiedBy});
    EntityInfo.fromJson(Map<String, dynamic> json) { fromMap(json); }

    fromMap(Map<String, dynamic> json) {
        id = json['id'];
        dateCreated = json['dateCreated'];
        dateLastModified = json['dateLastModified'];
        createdBy = json['createdBy'];
        lastModifiedBy = json['lastModifiedBy'];
        return this;
    }

    Map<String, dynamic> toJson() => {
        'id': id,
        'dateCreated': dateCreated,
        'dateLastModified': dateLastModified,
        'createdBy': createdBy,
        'lastModifiedBy': lastModifiedBy
    };

    getTypeName() => "EntityInfo";
    TypeContext? context = _ctx;
}

enum SessionDialState
{
    None,
    Active,
}

enum SessionCallState
{
    Disconnected,
    Ringing,
    Connected,
    Hold,
    Passive,
}

enum SessionQueueStates
{
    None,
    Queued,
    Ringing,
    Connected,
    Hold,
    Disconnected,
}

class CustomerBreadcrumb implements IConvertible
{
    String? id;
    String? name;

    CustomerBreadcrumb({this.id,this.name});
    CustomerBreadcrumb.fromJson(Map<String, dynamic> json) { fromMap(json); }

    fromMap(Map<String, dynamic> json) {
        id = json['id'];
        name = json['name'];
        return this;
    }

    Map<String, dynamic> toJson() => {
        'id': id,
        'name': name
    };

    getTypeName() => "CustomerBreadcrumb";
    TypeContext? context = _ctx;
}

enum FlowChannels
{
    Voice,
    Chat,
    Fax,
}

enum SessionHoldReasons
{
    None,
    Transferring,
}

class SessionLogInfo implements IConvertible
{
    String? date;
    String? message;

    SessionLogInfo({this.date,this.message});
    SessionLogInfo.fromJson(Map<String, dynamic> json) { fromMap(json); }

    fromMap(Map<String, dynamic> json) {
        date = json['date'];
        message = json['message'];
        return this;
    }

    Map<String, dynamic> toJson() => {
        'date': date,
        'message': message
    };

    getTypeName() => "SessionLogInfo";
    TypeContext? context = _ctx;
}

enum SessionMemberCallState
{
    None,
    Ringing,
    Connected,
    Hold,
}

enum SessionMemberRoles
{
    None,
    Caller,
    Agent,
    Transfer,
}

class SessionMemberInfo implements IConvertible
{
    String? identity;
    String? endpointId;
    String? displayName;
    bool? isOriginalMember;
    String? avatarUrl;
    Map<String,String?>? applicationData;
    SessionMemberCallState? callState;
    SessionMemberRoles? role;
    String? callSid;
    bool? muted;

    SessionMemberInfo({this.identity,this.endpointId,this.displayName,this.isOriginalMember,this.avatarUrl,this.applicationData,this.callState,this.role,this.callSid,this.muted});
    SessionMemberInfo.fromJson(Map<String, dynamic> json) { fromMap(json); }

    fromMap(Map<String, dynamic> json) {
        identity = json['identity'];
        endpointId = json['endpointId'];
        displayName = json['displayName'];
        isOriginalMember = json['isOriginalMember'];
        avatarUrl = json['avatarUrl'];
        applicationData = JsonConverters.fromJson(json['applicationData'],'Map<String,String?>',context!);
        callState = JsonConverters.fromJson(json['callState'],'SessionMemberCallState',context!);
        role = JsonConverters.fromJson(json['role'],'SessionMemberRoles',context!);
        callSid = json['callSid'];
        muted = json['muted'];
        return this;
    }

    Map<String, dynamic> toJson() => {
        'identity': identity,
        'endpointId': endpointId,
        'displayName': displayName,
        'isOriginalMember': isOriginalMember,
        'avatarUrl': avatarUrl,
        'applicationData': JsonConverters.toJson(applicationData,'Map<String,String?>',context!),
        'callState': JsonConverters.toJson(callState,'SessionMemberCallState',context!),
        'role': JsonConverters.toJson(role,'SessionMemberRoles',context!),
        'callSid': callSid,
        'muted': muted
    };

    getTypeName() => "SessionMemberInfo";
    TypeContext? context = _ctx;
}

enum SessionDirections
{
    Incoming,
    Outgoing,
}

class SessionInfo extends EntityInfo implements IConvertible
{
    /**
    * The state of the session
    */
    SessionDialState? dialState;
    /**
    * The call state of the session
    */
    SessionCallState? callState;
    /**
    * The queue state of the session
    */
    SessionQueueStates? queueState;
    /**
    * The ID of the account associated with the flow
    */
    String? accountId;
    /**
    * The name of the account associated with the session
    */
    String? accountName;
    /**
    * The ID of the customer this session is associated with
    */
    String? customerId;
    /**
    * The customer breadcrumb this session is associated with
    */
    List<CustomerBreadcrumb>? customerBreadcrumb;
    /**
    * The name of the customer this session is associated with
    */
    String? customerName;
    /**
    * The ID of the endpoint associated with this session
    */
    String? endpointId;
    /**
    * The name of the endpoint associated with this session
    */
    String? endpointName;
    /**
    * The date the call completed
    */
    String? dateCompleted;
    /**
    * The destination of the session (e.g. what was entered into the Dial box)
    */
    String? destination;
    /**
    * The to address if any
    */
    String? toAddress;
    /**
    * The from address if any
    */
    String? fromAddress;
    /**
    * The from name if any
    */
    String? fromName;
    /**
    * Answered by name (if any)
    */
    String? answeredByName;
    /**
    * The ID of the queue member assigned to this call
    */
    String? queueMemberId;
    /**
    * The flow channel
    */
    FlowChannels? channel;
    /**
    * Has the session ended
    */
    bool? ended;
    /**
    * The outcome of the call
    */
    String? outcome;
    /**
    * The twilio Call SID of this session
    */
    String? callSid;
    /**
    * Any console data for this session
    */
    String? consoleData;
    /**
    * The name of the hold queue for this call
    */
    String? holdQueueName;
    /**
    * The user ID who put this call on hold
    */
    String? heldByUserId;
    /**
    * The reason for the hold
    */
    SessionHoldReasons? holdReason;
    /**
    * The SID of the conference if in a conference call
    */
    String? conferenceSid;
    /**
    * The display name for this session
    */
    String? displayName;
    /**
    * The log entries for this session
    */
    List<SessionLogInfo>? log;
    /**
    * The members of this session
    */
    List<SessionMemberInfo>? members;
    /**
    * The callback number (typically used for SIP to User calls)
    */
    String? callbackNumber;
    /**
    * The ID of the endpoint that answered
    */
    String? answeredById;
    /**
    * Is this session incoming or outgoing?
    */
    SessionDirections? direction;
    /**
    * The phone number that this session is coming from (used with SMS chats)
    */
    String? fromPhoneNumber;
    /**
    * The Call SID of the most recently added conference participant
    */
    String? mostRecentParticipantCallSid;
    /**
    * Was this session missed?
    */
    bool? wasMissed;
    /**
    * The ring queue that the call is currently in
    */
    String? ringQueueId;

    SessionInfo({this.dialState,this.callState,this.queueState,this.accountId,this.accountName,this.customerId,this.customerBreadcrumb,this.customerName,this.endpointId,this.endpointName,this.dateCompleted,this.destination,this.toAddress,this.fromAddress,this.fromName,this.answeredByName,this.queueMemberId,this.channel,this.ended,this.outcome,this.callSid,this.consoleData,this.holdQueueName,this.heldByUserId,this.holdReason,this.conferenceSid,this.displayName,this.log,this.members,this.callbackNumber,this.answeredById,this.direction,this.fromPhoneNumber,this.mostRecentParticipantCallSid,this.wasMissed,this.ringQueueId});
    SessionInfo.fromJson(Map<String, dynamic> json) { fromMap(json); }

    fromMap(Map<String, dynamic> json) {
        super.fromMap(json);
        dialState = JsonConverters.fromJson(json['dialState'],'SessionDialState',context!);
        callState = JsonConverters.fromJson(json['callState'],'SessionCallState',context!);
        queueState = JsonConverters.fromJson(json['queueState'],'SessionQueueStates',context!);
        accountId = json['accountId'];
        accountName = json['accountName'];
        customerId = json['customerId'];
        customerBreadcrumb = JsonConverters.fromJson(json['customerBreadcrumb'],'List<CustomerBreadcrumb>',context!);
        customerName = json['customerName'];
        endpointId = json['endpointId'];
        endpointName = json['endpointName'];
        dateCompleted = json['dateCompleted'];
        destination = json['destination'];
        toAddress = json['toAddress'];
        fromAddress = json['fromAddress'];
        fromName = json['fromName'];
        answeredByName = json['answeredByName'];
        queueMemberId = json['queueMemberId'];
        channel = JsonConverters.fromJson(json['channel'],'FlowChannels',context!);
        ended = json['ended'];
        outcome = json['outcome'];
        callSid = json['callSid'];
        consoleData = json['consoleData'];
        holdQueueName = json['holdQueueName'];
        heldByUserId = json['heldByUserId'];
        holdReason = JsonConverters.fromJson(json['holdReason'],'SessionHoldReasons',context!);
        conferenceSid = json['conferenceSid'];
        displayName = json['displayName'];
        log = JsonConverters.fromJson(json['log'],'List<SessionLogInfo>',context!);
        members = JsonConverters.fromJson(json['members'],'List<SessionMemberInfo>',context!);
        callbackNumber = json['callbackNumber'];
        answeredById = json['answeredById'];
        direction = JsonConverters.fromJson(json['direction'],'SessionDirections',context!);
        fromPhoneNumber = json['fromPhoneNumber'];
        mostRecentParticipantCallSid = json['mostRecentParticipantCallSid'];
        wasMissed = json['wasMissed'];
        ringQueueId = json['ringQueueId'];
        return this;
    }

    Map<String, dynamic> toJson() => super.toJson()..addAll({
        'dialState': JsonConverters.toJson(dialState,'SessionDialState',context!),
        'callState': JsonConverters.toJson(callState,'SessionCallState',context!),
        'queueState': JsonConverters.toJson(queueState,'SessionQueueStates',context!),
        'accountId': accountId,
        'accountName': accountName,
        'customerId': customerId,
        'customerBreadcrumb': JsonConverters.toJson(customerBreadcrumb,'List<CustomerBreadcrumb>',context!),
        'customerName': customerName,
        'endpointId': endpointId,
        'endpointName': endpointName,
        'dateCompleted': dateCompleted,
        'destination': destination,
        'toAddress': toAddress,
        'fromAddress': fromAddress,
        'fromName': fromName,
        'answeredByName': answeredByName,
        'queueMemberId': queueMemberId,
        'channel': JsonConverters.toJson(channel,'FlowChannels',context!),
        'ended': ended,
        'outcome': outcome,
        'callSid': callSid,
        'consoleData': consoleData,
        'holdQueueName': holdQueueName,
        'heldByUserId': heldByUserId,
        'holdReason': JsonConverters.toJson(holdReason,'SessionHoldReasons',context!),
        'conferenceSid': conferenceSid,
        'displayName': displayName,
        'log': JsonConverters.toJson(log,'List<SessionLogInfo>',context!),
        'members': JsonConverters.toJson(members,'List<SessionMemberInfo>',context!),
        'callbackNumber': callbackNumber,
        'answeredById': answeredById,
        'direction': JsonConverters.toJson(direction,'SessionDirections',context!),
        'fromPhoneNumber': fromPhoneNumber,
        'mostRecentParticipantCallSid': mostRecentParticipantCallSid,
        'wasMissed': wasMissed,
        'ringQueueId': ringQueueId
    });

    getTypeName() => "SessionInfo";
    TypeContext? context = _ctx;
}

class GetActiveSessionsResponse implements IConvertible
{
    List<SessionInfo>? sessions;

    GetActiveSessionsResponse({this.sessions});
    GetActiveSessionsResponse.fromJson(Map<String, dynamic> json) { fromMap(json); }

    fromMap(Map<String, dynamic> json) {
        sessions = JsonConverters.fromJson(json['sessions'],'List<SessionInfo>',context!);
        return this;
    }

    Map<String, dynamic> toJson() => {
        'sessions': JsonConverters.toJson(sessions,'List<SessionInfo>',context!)
    };

    getTypeName() => "GetActiveSessionsResponse";
    TypeContext? context = _ctx;
}

// @Route("/sessions/active", "GET")
class GetActiveSessions implements IReturn<GetActiveSessionsResponse>, IGet, IConvertible
{
    GetActiveSessions();
    GetActiveSessions.fromJson(Map<String, dynamic> json) : super();
    fromMap(Map<String, dynamic> json) {
        return this;
    }

    Map<String, dynamic> toJson() => {};
    createResponse() => GetActiveSessionsResponse();
    getResponseTypeName() => "GetActiveSessionsResponse";
    getTypeName() => "GetActiveSessions";
    TypeContext? context = _ctx;
}

TypeContext _ctx = TypeContext(library: 'Voice.Api', types: <String, TypeInfo> {
    'EntityInfo': TypeInfo(TypeOf.Class, create:() => EntityInfo()),
    'SessionDialState': TypeInfo(TypeOf.Enum, enumValues:SessionDialState.values),
    'SessionCallState': TypeInfo(TypeOf.Enum, enumValues:SessionCallState.values),
    'SessionQueueStates': TypeInfo(TypeOf.Enum, enumValues:SessionQueueStates.values),
    'CustomerBreadcrumb': TypeInfo(TypeOf.Class, create:() => CustomerBreadcrumb()),
    'FlowChannels': TypeInfo(TypeOf.Enum, enumValues:FlowChannels.values),
    'SessionHoldReasons': TypeInfo(TypeOf.Enum, enumValues:SessionHoldReasons.values),
    'SessionLogInfo': TypeInfo(TypeOf.Class, create:() => SessionLogInfo()),
    'SessionMemberCallState': TypeInfo(TypeOf.Enum, enumValues:SessionMemberCallState.values),
    'SessionMemberRoles': TypeInfo(TypeOf.Enum, enumValues:SessionMemberRoles.values),
    'SessionMemberInfo': TypeInfo(TypeOf.Class, create:() => SessionMemberInfo()),
    'SessionDirections': TypeInfo(TypeOf.Enum, enumValues:SessionDirections.values),
    'SessionInfo': TypeInfo(TypeOf.Class, create:() => SessionInfo()),
    'GetActiveSessionsResponse': TypeInfo(TypeOf.Class, create:() => GetActiveSessionsResponse()),
    'GetActiveSessions': TypeInfo(TypeOf.Class, create:() => GetActiveSessions()),
    'Map<String,String?>': TypeInfo(TypeOf.Class, create:() => Map<String,String?>()),
    'List<CustomerBreadcrumb>': TypeInfo(TypeOf.Class, create:() => <CustomerBreadcrumb>[]),
    'List<SessionLogInfo>': TypeInfo(TypeOf.Class, create:() => <SessionLogInfo>[]),
    'List<SessionMemberInfo>': TypeInfo(TypeOf.Class, create:() => <SessionMemberInfo>[]),
    'List<SessionInfo>': TypeInfo(TypeOf.Class, create:() => <SessionInfo>[]),
});
