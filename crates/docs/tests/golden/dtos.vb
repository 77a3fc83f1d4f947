' Options:
'Date: 2026-11-25 10:00:00
'Version: 8.0
'Tip: To override a DTO option, remove "''" prefix before updating
'BaseUrl: https://voice.example
'
'''GlobalNamespace: Voice.Api
'''AddServiceStackTypes: True
'IncludeTypes: GetActiveSessions.*
'''ExcludeTypes: 

Imports System
Imports System.Collections.Generic
Imports System.Runtime.Serialization
Imports ServiceStack
Imports ServiceStack.DataAnnotations

Namespace Global

    Namespace Voice.Api

        Public Partial Class EntityInfo
            '''<Summary>
            '''The ID of the object
            '''</Summary>
            Public Overridable Property Id As String
            '''<Summary>
            '''The date the object was created
            '''</Summary>
            Public Overridable Property DateCreated As String
            '''<Summary>
            '''The date the object was last modified
            '''</Summary>
            Public Overridable Property DateLastModified As String
            '''<Summary>
            '''The user that created this object
            '''</Summary>
            Public Overridable Property CreatedBy As String
            '''<Summary>
            '''The user that last modified this object
            '''</Summary>
            Public Overridable Property LastModifiedBy As String
        End Class

        Public Enum SessionDialState
            None = 0
            Active = 1
        End Enum

        Public Enum SessionCallState
            Disconnected = 0
            Ringing = 1
            Connected = 2
            Hold = 3
            Passive = 4
        End Enum

        Public Enum SessionQueueStates
            None = 0
            Queued = 1
            Ringing = 2
            Connected = 3
            Hold = 4
            Disconnected = 5
        End Enum

        Public Partial Class CustomerBreadcrumb
            Public Overridable Property Id As String
            Public Overridable Property Name As String
        End Class

        Public Enum FlowChannels
            Voice = 0
            Chat = 1
            Fax = 2
        End Enum

        Public Enum SessionHoldReasons
            None = 0
            Transferring = 1
        End Enum

        Public Partial Class SessionLogInfo
            Public Overridable Property Date As String
            Public Overridable Property Message As String
        End Class

        Public Enum SessionMemberCallState
            None = 0
            Ringing = 1
            Connected = 2
            Hold = 3
        End Enum

        Public Enum SessionMemberRoles
            None = 0
            Caller = 1
            Agent = 2
            Transfer = 3
        End Enum

        Public Partial Class SessionMemberInfo
            Public Overridable Property Identity As String
            Public Overridable Property EndpointId As String
            Public Overridable Property DisplayName As String
            Public Overridable Property IsOriginalMember As Boolean
            Public Overridable Property AvatarUrl As String
            Public Overridable Property ApplicationData As Dictionary(Of String, String)
            Public Overridable Property CallState As SessionMemberCallState
            Public Overridable Property Role As SessionMemberRoles
            Public Overridable Property CallSid As String
            Public Overridable Property Muted As Boolean
        End Class

        Public Enum SessionDirections
            Incoming = 0
            Outgoing = 1
        End Enum

        Public Partial Class SessionInfo
            Inherits EntityInfo
            '''<Summary>
            '''The state of the session
            '''</Summary>
            Public Overridable Property DialState As SessionDialState
            '''<Summary>
            '''The call state of the session
            '''</Summary>
            Public Overridable Property CallState As SessionCallState
            '''<Summary>
            '''The queue state of the session
            '''</Summary>
            Public Overridable Property QueueState As SessionQueueStates
            '''<Summary>
            '''The ID of the account associated with the flow
            '''</Summary>
            Public Overridable Property AccountId As String
            '''<Summary>
            '''The name of the account associated with the session
            '''</Summary>
            Public Overridable Property AccountName As String
            '''<Summary>
            '''The ID of the customer this session is associated with
            '''</Summary>
            Public Overridable Property CustomerId As String
            '''<Summary>
            '''The customer breadcrumb this session is associated with
            '''</Summary>
            Public Overridable Property CustomerBreadcrumb As List(Of CustomerBreadcrumb)
            '''<Summary>
            '''The name of the customer this session is associated with
            '''</Summary>
            Public Overridable Property CustomerName As String
            '''<Summary>
            '''The ID of the endpoint associated with this session
            '''</Summary>
            Public Overridable Property EndpointId As String
            '''<Summary>
            '''The name of the endpoint associated with this session
            '''</Summary>
            Public Overridable Property EndpointName As String
            '''<Summary>
            '''The date the call completed
            '''</Summary>
            Public Overridable Property DateCompleted As String
            '''<Summary>
            '''The destination of the session (e.g. what was entered into the Dial box)
            '''</Summary>
            Public Overridable Property Destination As String
            '''<Summary>
            '''The to address if any
            '''</Summary>
            Public Overridable Property ToAddress As String
            '''<Summary>
            '''The from address if any
            '''</Summary>
            Public Overridable Property FromAddress As String
            '''<Summary>
            '''The from name if any
            '''</Summary>
            Public Overridable Property FromName As String
            '''<Summary>
            '''Answered by name (if any)
            '''</Summary>
            Public Overridable Property AnsweredByName As String
            '''<Summary>
            '''The ID of the queue member assigned to this call
            '''</Summary>
            Public Overridable Property QueueMemberId As String
            '''<Summary>
            '''The flow channel
            '''</Summary>
            Public Overridable Property Channel As FlowChannels
            '''<Summary>
            '''Has the session ended
            '''</Summary>
            Public Overridable Property Ended As Boolean
            '''<Summary>
            '''The outcome of the call
            '''</Summary>
            Public Overridable Property Outcome As String
            '''<Summary>
            '''The twilio Call SID of this session
            '''</Summary>
            Public Overridable Property CallSid As String
            '''<Summary>
            '''Any console data for this session
            '''</Summary>
            Public Overridable Property ConsoleData As String
            '''<Summary>
            '''The name of the hold queue for this call
            '''</Summary>
            Public Overridable Property HoldQueueName As String
            '''<Summary>
            '''The user ID who put this call on hold
            '''</Summary>
            Public Overridable Property HeldByUserId As String
            '''<Summary>
            '''The reason for the hold
            '''</Summary>
            Public Overridable Property HoldReason As SessionHoldReasons
            '''<Summary>
            '''The SID of the conference if in a conference call
            '''</Summary>
            Public Overridable Property ConferenceSid As String
            '''<Summary>
            '''The display name for this session
            '''</Summary>
            Public Overridable Property DisplayName As String
            '''<Summary>
            '''The log entries for this session
            '''</Summary>
            Public Overridable Property Log As List(Of SessionLogInfo)
            '''<Summary>
            '''The members of this session
            '''</Summary>
            Public Overridable Property Members As List(Of SessionMemberInfo)
            '''<Summary>
            '''The callback number (typically used for SIP to User calls)
            '''</Summary>
            Public Overridable Property CallbackNumber As String
            '''<Summary>
            '''The ID of the endpoint that answered
            '''</Summary>
            Public Overridable Property AnsweredById As String
            '''<Summary>
            '''Is this session incoming or outgoing?
            '''</Summary>
            Public Overridable Property Direction As SessionDirections
            '''<Summary>
            '''The phone number that this session is coming from (used with SMS chats)
            '''</Summary>
            Public Overridable Property FromPhoneNumber As String
            '''<Summary>
            '''The Call SID of the most recently added conference participant
            '''</Summary>
            Public Overridable Property MostRecentParticipantCallSid As String
            '''<Summary>
            '''Was this session missed?
            '''</Summary>
            Public Overridable Property WasMissed As Boolean
            '''<Summary>
            '''The ring queue that the call is currently in
            '''</Summary>
            Public Overridable Property RingQueueId As String
        End Class

        Public Partial Class GetActiveSessionsResponse
            Public Overridable Property Sessions As List(Of SessionInfo)
        End Class

        <Route("/sessions/active", "GET")>
        Public Partial Class GetActiveSessions
            Implements IReturn(Of GetActiveSessionsResponse)
        End Class

    End Namespace
End Namespace
